"""The German spaCy pipeline: de_core_news_sm when installed, else a trained fallback.

The fallback is a real spaCy NER pipeline trained from GermEval 2014 files on
GermEval's own outer labels, with a component after `ner` that maps them to the
pipeline's PER/LOC/ORG/MISC (see germeval.py; ner_training.cfg is the recipe).
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
import srsly
from filelock import FileLock
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.strings import get_string_id
from spacy.tokens import Doc, DocBin
from spacy.training import Example

import pipeline.ner_features  # noqa: F401  (registers the architecture spacy.load needs)
from pipeline.germeval import (
    Sentence,
    doc_tags,
    map_tag,
    score_chunks,
    sentence_to_doc,
    sentences_from_files,
)
from pipeline.io import write_json_atomic
from pipeline.messages import decimal, say

MODEL_INFO_FILE = "presseabgleich_model.json"
LABEL_COMPONENT = "presseabgleich_pipeline_labels"
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


# Named variants of ner_training.cfg (`train-model --recipe NAME`, or [model] recipe),
# as spaCy config overrides; each one's measured cost and score is in docs/model.md.
RECIPES: dict[str, dict[str, Any]] = {
    "fast": {},
    "accurate": {
        "components.tok2vec.model.encode.width": 256,
        "components.tok2vec.model.embed.embed.rows": [40000, 10000, 20000, 2000],
        "components.ner.model.hidden_width": 192,
    },
}


class TrainingTimeUp(Exception):
    """Raised between updates when the training budget is spent; spaCy has saved the
    best checkpoint so far by then."""


def recipe_overrides(model_config: dict[str, Any]) -> dict[str, Any]:
    name = model_config["recipe"]
    if name not in RECIPES:
        raise ValueError(f"unknown model recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def fallback_key(model_config: dict[str, Any]) -> str:
    """Hash of everything that determines the trained model."""
    digest = hashlib.sha256()
    for path in _data_files(model_config, "train_files"):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in ("ner_training.cfg", "ner_features.py", "gazetteers.py", "germeval.py"):
        digest.update(_package_text(name).encode())
    for name in ("org_words.txt", "titles.txt", "roles.txt", "states.txt", "surnames-germaner.txt"):
        digest.update(_package_text(f"resources/{name}").encode())
    settings = {
        k: model_config[k]
        for k in (
            "test_files",
            "early_stopping_sentences",
            "max_epochs",
            "max_steps",
            "patience_steps",
            "max_training_minutes",
            "seed",
        )
    }
    settings["recipe"] = recipe_overrides(model_config)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(spacy.__version__.encode())
    return digest.hexdigest()


def split_sentences(model_config: dict[str, Any]) -> tuple[list[Sentence], list[Sentence]]:
    """(train, early-stopping) sentences: a fixed-seed shuffle of all training files,
    the first `early_stopping_sentences` of it set aside to pick the best checkpoint."""
    sentences = sentences_from_files(_data_files(model_config, "train_files"))
    random.Random(model_config["seed"]).shuffle(sentences)
    n_stop = max(1, min(model_config["early_stopping_sentences"], len(sentences) // 5))
    return sentences[n_stop:], sentences[:n_stop]


def ner_only(nlp: Language) -> contextlib.AbstractContextManager:
    """The pipeline up to `ner`, so it predicts GermEval's own labels."""
    return nlp.select_pipes(disable=[name for name in (LABEL_COMPONENT, "sentencizer") if name in nlp.pipe_names])


def score_germeval(nlp: Language, sentences: list[Sentence]) -> dict[str, Any]:
    """The model on GermEval's own tokens, two ways (exact spans, exact labels):
    `official`: GermEval 2014's outer-chunk metric over its 12 outer labels;
    `pipeline`: both sides mapped to PER/LOC/ORG/MISC (deriv → base, part → none),
    what extraction sees. A model without GermEval's labels (an installed
    de_core_news_sm) gets the pipeline metric only."""
    with ner_only(nlp):
        docs = (Doc(nlp.vocab, words=list(s.tokens)) for s in sentences)
        predicted = [doc_tags(doc) for doc in nlp.pipe(docs, batch_size=256)]
    gold = [list(s.tags) for s in sentences]
    result: dict[str, Any] = {}
    if "ner" in nlp.pipe_names and "LOCderiv" in nlp.get_pipe("ner").labels:
        result["official"] = score_chunks(gold, predicted)
    result["pipeline"] = score_chunks(
        ([map_tag(t) for t in tags] for tags in gold), ([map_tag(t) for t in tags] for tags in predicted)
    )
    return result


def score_docs(nlp: Language, references: list[Doc]) -> dict[str, Any]:
    """Exact-span precision/recall/F1 per type of the whole pipeline (its own
    tokenizer, sentence splitting and rule layer) against gold docs, by character offsets."""
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


def format_scores(evaluation: dict[str, Any]) -> str:
    """Per-type P/R/F1 table of score_germeval's metrics, for the console."""
    lines = []
    for metric in ("official", "pipeline"):
        if metric not in evaluation:
            continue
        scores = evaluation[metric]
        title = "GermEval 2014 official (outer chunks)" if metric == "official" else "pipeline labels"
        lines.append(f"{title}: P {scores['p']:.3f}  R {scores['r']:.3f}  F1 {scores['f']:.3f}")
        for label, values in scores["per_type"].items():
            lines.append(
                f"  {label:<9} P {values['p']:.3f}  R {values['r']:.3f}  F1 {values['f']:.3f}  ({values['gold']} gold)"
            )
    return "\n".join(lines)


@spacy.registry.callbacks("presseabgleich.time_budget.v1")
def time_budget(minutes: float) -> Any:
    """spaCy `before_update` callback raising TrainingTimeUp once the training process
    has used `minutes` of CPU time. CPU time, not wall-clock time: on an idle machine
    the two agree (training runs on one core), and on a busy one the model still gets
    the training it was measured with instead of fewer steps."""
    deadline = time.process_time() + minutes * 60

    def before_update(nlp: Language, info: dict[str, Any]) -> None:
        if time.process_time() > deadline:
            raise TrainingTimeUp

    return before_update


def train_fallback(model_config: dict[str, Any], output_dir: Path, log: Any = print) -> ModelInfo:
    """Train the fallback pipeline into `output_dir` and score it on the test files."""
    from spacy.cli.train import train as spacy_train

    started, started_cpu = time.perf_counter(), time.process_time()
    vocab = spacy.blank("de").vocab
    train_sentences, stop_sentences = split_sentences(model_config)
    test_sentences = sentences_from_files(_data_files(model_config, "test_files"))
    budget_minutes = model_config["max_training_minutes"]
    with tempfile.TemporaryDirectory(prefix="presseabgleich-train-") as tmp:
        work = Path(tmp)
        DocBin(docs=[sentence_to_doc(vocab, s) for s in train_sentences]).to_disk(work / "train.spacy")
        DocBin(docs=[sentence_to_doc(vocab, s) for s in stop_sentences]).to_disk(work / "stop.spacy")
        (work / "config.cfg").write_text(_package_text("ner_training.cfg"), encoding="utf-8")
        log(
            say(
                "model.training",
                recipe=model_config["recipe"],
                sentences=len(train_sentences),
                stopping=len(stop_sentences),
                steps=model_config["max_steps"],
                epochs=model_config["max_epochs"],
                minutes=budget_minutes,
            )
        )
        overrides = {
            "paths.train": str(work / "train.spacy"),
            "paths.dev": str(work / "stop.spacy"),
            "training.max_epochs": model_config["max_epochs"],
            "training.max_steps": model_config["max_steps"],
            "training.patience": model_config["patience_steps"],
            "system.seed": model_config["seed"],
            "training.before_update.minutes": budget_minutes,
            **recipe_overrides(model_config),
        }
        stopped_by_budget = False
        # spaCy reports progress on stdout; keep stdout for the command's own output
        with contextlib.redirect_stdout(sys.stderr):
            try:
                spacy_train(work / "config.cfg", work / "out", overrides=overrides)
            except TrainingTimeUp:
                stopped_by_budget = True
        if not (work / "out" / "model-best").is_dir():
            raise RuntimeError(f"training stopped after {budget_minutes} CPU minutes, before its first evaluation")
        nlp = spacy.load(work / "out" / "model-best")
        nlp.add_pipe(LABEL_COMPONENT, after="ner")
        training_seconds = round(time.perf_counter() - started, 1)
        training_cpu_seconds = round(time.process_time() - started_cpu, 1)
        evaluation = {
            "test_files": model_config["test_files"],
            "recipe": model_config["recipe"],
            "stopped_by_time_budget": stopped_by_budget,
            "training_cpu_seconds": training_cpu_seconds,
            **score_germeval(nlp, test_sentences),
        }
        nlp.meta["name"] = "presseabgleich_de_ner"
        nlp.meta["version"] = "2.0.0"
        nlp.meta["sources"] = [
            {
                "name": "GermEval 2014 NER (Benikova, Biemann, Reznicek, LREC 2014)",
                "url": "https://sites.google.com/site/germeval2014ner/",
                "license": "CC BY 4.0",
            },
            {
                "name": "GermaNER surname list (TU Darmstadt), a feature of the model",
                "url": "https://github.com/tudarmstadt-lt/GermaNER",
                "license": "Apache-2.0",
            },
        ]
        nlp.meta["license"] = "CC BY 4.0 (training data attribution: GermEval 2014)"
        nlp.meta["presseabgleich_evaluation"] = evaluation
        info = ModelInfo(
            name=nlp.meta["name"],
            version=nlp.meta["version"],
            kind="trained-fallback",
            path=str(output_dir),
            data_hash=fallback_key(model_config),
            components=list(nlp.pipe_names),
            evaluation=evaluation,
            training_seconds=training_seconds,
        )
        nlp.to_disk(work / "final")
        write_json_atomic(work / "final" / MODEL_INFO_FILE, asdict(info))
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        shutil.move(str(work / "final"), str(output_dir))
    official = evaluation.get("official", evaluation["pipeline"])
    log(
        say(
            "model.trained",
            seconds=f"{info.training_seconds:.0f}",
            cpu_seconds=f"{training_cpu_seconds:.0f}",
            budget=say("model.budget") if stopped_by_budget else "",
            files=", ".join(model_config["test_files"]),
            official_f=decimal(official["f"], 3),
            pipeline_f=decimal(evaluation["pipeline"]["f"], 3),
        )
    )
    return info


def model_dir(model_config: dict[str, Any]) -> Path:
    return cache_dir(model_config) / f"de_ner_{fallback_key(model_config)[:16]}"


def ensure_fallback_model(model_config: dict[str, Any], log: Any = print) -> ModelInfo:
    """Return the cached fallback model, training it first if needed."""
    target = model_dir(model_config)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f"{target.name}.lock"):
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
    from pipeline.extract import RULE_COMPONENTS  # here: the extract stage imports this module

    name = model_config["name"]
    package = installed_model(name) if name else None
    if package is not None:
        info = ModelInfo(
            name=name, version=spacy.util.get_package_version(name) or "", kind="installed", path=str(package)
        )
        info.components = ["senter", "ner", *RULE_COMPONENTS]
        return info
    info = ensure_fallback_model(model_config, log=log)
    info.components = ["sentencizer", "tok2vec", "ner", "presseabgleich_pipeline_labels", *RULE_COMPONENTS]
    return info


class HashedTable(dict):
    """A read-only lookups table over the string hashes a saved spaCy `Table` holds.

    spaCy's `Table` inserts its keys one by one in Python when it is loaded: 2.5 s of
    every run's start-up for the fallback model's 520,000 gazetteer words. The model's
    features only call `get`, so this dict answers `get`, `in` and `[]` like the Table.
    """

    def get(self, key: str | int, default: Any = None) -> Any:
        return dict.get(self, get_string_id(key), default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, get_string_id(key))  # type: ignore[arg-type]

    def __getitem__(self, key: str | int) -> Any:
        return dict.__getitem__(self, get_string_id(key))


def load_lookups(nlp: Language, model_path: Path) -> None:
    """The model's `vocab/lookups.bin` tables into `nlp.vocab.lookups`, as HashedTables."""
    path = model_path / "vocab" / "lookups.bin"
    if path.is_file():
        for name, table in srsly.msgpack_loads(path.read_bytes()).items():
            nlp.vocab.lookups.set_table(name, HashedTable(table))


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
        nlp = spacy.load(info.path, exclude=["lookups"])
        load_lookups(nlp, Path(info.path))
        nlp.add_pipe("sentencizer", first=True)
    info.components = list(nlp.pipe_names)
    return nlp, info
