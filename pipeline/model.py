"""The German spaCy pipeline: de_core_news_sm when installed, else a trained fallback.

The fallback is a real spaCy NER pipeline trained from GermEval 2014 files
(see germeval.py for the label mapping and ner_training.cfg for the recipe).
It is cached outside the checkout, keyed by the training data, the recipe, the
gazetteer code and the spaCy version, and trained at most once per key (a file
lock keeps parallel runs from training twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import spacy
from filelock import FileLock
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import DocBin
from spacy.training import Example

import pipeline.ner_features  # noqa: F401  (registers the architecture spacy.load needs)
from pipeline.germeval import docs_from_files
from pipeline.io import write_json_atomic

MODEL_INFO_FILE = "presseabgleich_model.json"
CACHE_ENV = "PRESSEABGLEICH_CACHE"
DATA_ENV = "PRESSEABGLEICH_NER_DATA"


@dataclass
class ModelInfo:
    """Which model produced the outputs; recorded with every run."""

    name: str
    version: str
    kind: str  # "installed" or "trained-fallback"
    path: str
    data_hash: str = ""
    spacy_version: str = spacy.__version__
    components: list[str] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    training_seconds: float | None = None

    def describe(self) -> str:
        if self.kind == "installed":
            return f"{self.name} {self.version} (installed spaCy package)"
        return f"{self.name} {self.version} (fallback trained from GermEval 2014, data {self.data_hash[:12]})"


def _package_text(name: str) -> str:
    return resources.files("pipeline").joinpath(name).read_text(encoding="utf-8")


def ner_data_dir(model_config: dict[str, Any]) -> Path:
    return Path(os.environ.get(DATA_ENV) or model_config["ner_data_dir"]).expanduser()


def cache_dir(model_config: dict[str, Any]) -> Path:
    configured = os.environ.get(CACHE_ENV) or model_config["cache_dir"]
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "presseabgleich" / "models"


def _data_files(model_config: dict[str, Any], key: str) -> list[Path]:
    folder = ner_data_dir(model_config)
    files = [folder / name for name in model_config[key]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"NER training data not found: {', '.join(missing)}. Set [model] ner_data_dir in the "
            f"config or ${DATA_ENV}, or install de_core_news_sm (python -m spacy download de_core_news_sm)."
        )
    return files


def fallback_key(model_config: dict[str, Any]) -> str:
    """Hash of everything that determines the trained model."""
    digest = hashlib.sha256()
    for path in _data_files(model_config, "train_files"):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in ("ner_training.cfg", "ner_features.py", "gazetteers.py", "germeval.py"):
        digest.update(_package_text(name).encode())
    for name in ("org_words.txt", "titles.txt", "roles.txt", "states.txt"):
        digest.update(_package_text(f"resources/{name}").encode())
    settings = {
        k: model_config[k] for k in ("held_out_share", "early_stopping_share", "max_epochs", "patience_steps", "seed")
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(spacy.__version__.encode())
    return digest.hexdigest()


def split_sentences(model_config: dict[str, Any], vocab: Any) -> tuple[list, list, list]:
    """(train, early-stopping, held-out) docs: a fixed shuffle of all training files."""
    docs = docs_from_files(vocab, _data_files(model_config, "train_files"))
    random.Random(model_config["seed"]).shuffle(docs)
    n_held = int(len(docs) * model_config["held_out_share"])
    held, rest = docs[:n_held], docs[n_held:]
    n_stop = max(1, int(len(rest) * model_config["early_stopping_share"]))
    return rest[n_stop:], rest[:n_stop], held


def score_docs(nlp: Language, references: list) -> dict[str, Any]:
    """Exact-span precision/recall/F1 per type against gold docs (GermEval mapping of germeval.py)."""
    predictions = nlp.pipe((doc.text for doc in references), batch_size=256)
    examples = [Example(pred, ref) for pred, ref in zip(predictions, references, strict=True)]
    scores = Scorer.score_spans(examples, "ents")
    per_type = {
        label: {metric: round(values[metric], 4) for metric in ("p", "r", "f")}
        for label, values in sorted((scores.get("ents_per_type") or {}).items())
    }
    return {
        "sentences": len(references),
        "p": round(scores["ents_p"], 4),
        "r": round(scores["ents_r"], 4),
        "f": round(scores["ents_f"], 4),
        "per_type": per_type,
    }


def train_fallback(model_config: dict[str, Any], output_dir: Path, log: Any = print) -> ModelInfo:
    """Train the fallback pipeline into `output_dir` and score it on the held-out files."""
    from spacy.cli.train import train as spacy_train

    started = time.perf_counter()
    vocab = spacy.blank("de").vocab
    train_docs, stop_docs, held_docs = split_sentences(model_config, vocab)
    with tempfile.TemporaryDirectory(prefix="presseabgleich-train-") as tmp:
        work = Path(tmp)
        DocBin(docs=train_docs).to_disk(work / "train.spacy")
        DocBin(docs=stop_docs).to_disk(work / "stop.spacy")
        (work / "config.cfg").write_text(_package_text("ner_training.cfg"), encoding="utf-8")
        log(
            f"Training the fallback German NER model on {len(train_docs)} GermEval sentences "
            f"({len(stop_docs)} for early stopping, {len(held_docs)} held out for scoring); once per machine."
        )
        # spaCy reports progress on stdout; keep stdout for the command's own output
        with contextlib.redirect_stdout(sys.stderr):
            spacy_train(
                work / "config.cfg",
                work / "out",
                overrides={
                    "paths.train": str(work / "train.spacy"),
                    "paths.dev": str(work / "stop.spacy"),
                    "training.max_epochs": model_config["max_epochs"],
                    "training.patience": model_config["patience_steps"],
                    "system.seed": model_config["seed"],
                },
            )
        nlp = spacy.load(work / "out" / "model-best")
        nlp.meta["name"] = "presseabgleich_de_ner"
        nlp.meta["version"] = "1.0.0"
        nlp.meta["sources"] = [
            {
                "name": "GermEval 2014 NER (Benikova, Biemann, Reznicek, LREC 2014)",
                "url": "https://sites.google.com/site/germeval2014ner/",
                "license": "CC BY 4.0",
            }
        ]
        nlp.meta["license"] = "CC BY 4.0 (training data attribution: GermEval 2014)"
        evaluation = {"held_out_of": model_config["train_files"], **score_docs(nlp, held_docs)}
        info = ModelInfo(
            name=nlp.meta["name"],
            version=nlp.meta["version"],
            kind="trained-fallback",
            path=str(output_dir),
            data_hash=fallback_key(model_config),
            components=list(nlp.pipe_names),
            evaluation=evaluation,
            training_seconds=round(time.perf_counter() - started, 1),
        )
        nlp.to_disk(work / "final")
        write_json_atomic(work / "final" / MODEL_INFO_FILE, asdict(info))
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        shutil.move(str(work / "final"), str(output_dir))
    log(f"Fallback model trained in {info.training_seconds:.0f} s; held-out F1 {evaluation['f']:.3f}")
    return info


def ensure_fallback_model(model_config: dict[str, Any], log: Any = print) -> ModelInfo:
    """Return the cached fallback model, training it first if needed."""
    key = fallback_key(model_config)
    root = cache_dir(model_config)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"de_ner_{key[:16]}"
    with FileLock(root / f"de_ner_{key[:16]}.lock"):  # portable (Windows has no fcntl)
        info_file = target / MODEL_INFO_FILE
        if not info_file.is_file():
            return train_fallback(model_config, target, log=log)
    info = ModelInfo(**json.loads(info_file.read_text(encoding="utf-8")))
    info.path = str(target)
    return info


def installed_model(name: str) -> Path | None:
    try:
        return spacy.util.get_package_path(name) if spacy.util.is_package(name) else None
    except (ImportError, OSError):
        return None


def model_info(model_config: dict[str, Any], log: Any = print) -> ModelInfo:
    """Which model a run will use, without loading it (trains the fallback if needed)."""
    name = model_config["name"]
    package = installed_model(name) if name else None
    if package is not None:
        info = ModelInfo(
            name=name, version=spacy.util.get_package_version(name) or "", kind="installed", path=str(package)
        )
        info.components = ["ner", "senter", "presseabgleich_rules"]
        return info
    info = ensure_fallback_model(model_config, log=log)
    info.components = ["sentencizer", "tok2vec", "ner", "presseabgleich_rules"]
    return info


def load_pipeline(
    model_config: dict[str, Any], log: Any = print, info: ModelInfo | None = None
) -> tuple[Language, ModelInfo]:
    """The NER pipeline with only what extraction needs, and a record of which model it is.

    de_core_news_sm: its NER has its own tok2vec, so everything except `ner` is
    excluded and the fast `senter` (disabled by default) is enabled for
    sentences instead of the parser. Fallback: tok2vec + ner, with spaCy's
    rule-based sentencizer in front.
    """
    name = model_config["name"]
    package = installed_model(name) if name else None
    if package is not None:
        data_dir = package / f"{name}-{spacy.util.get_package_version(name)}"
        meta = spacy.util.get_model_meta(data_dir if data_dir.is_dir() else package)
        keep = {"ner", "senter"}
        exclude = [c for c in meta.get("components", meta.get("pipeline", [])) if c not in keep]
        nlp = spacy.load(name, exclude=exclude)
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        info = ModelInfo(name=name, version=nlp.meta.get("version", ""), kind="installed", path=str(package))
    else:
        if info is None or info.kind != "trained-fallback":  # `info` from model_info() saves hashing the data again
            info = ensure_fallback_model(model_config, log=log)
        nlp = spacy.load(info.path)
        nlp.add_pipe("sentencizer", first=True)
    info.components = list(nlp.pipe_names)
    return nlp, info
