"""A stand-in for spaCy's de_core_news_sm built from its published config (no weights).

`shared/models/de_core_news_sm-3.7.0/` holds the model's config.cfg and meta.json.
A pipeline built from that config has the same components, widths and hash-table
sizes as the real model, so it costs the same compute per word and exercises the
same code path (component exclusion, `senter` enabled); its weights are only
initialised, so its predictions mean nothing. Tests use it to run the pipeline
as it runs where de_core_news_sm is installed; benchmarks use it to compare the
pipeline with the naive `nlp(text)` loop a user of the real model would write.

Adaptations to build it offline with spaCy 3.8:
- `[initialize.lookups]` asks spacy-lookups-data for the lexeme_norm table (not
  installed offline): dropped. Vectors are null in the config already.
- `[initialize.components.*.labels]` read label files from the training corpus,
  which is not published: the labels come from meta.json instead.
- The package keeps the published meta (name, version 3.7.0, spacy_version
  ">=3.7.0,<3.8.0"), so loading it warns, as the real 3.7 model would, that it
  was made for another spaCy (W095).

    python bench/twin.py OUT_DIR        # writes OUT_DIR/de_core_news_sm/ (+ dist-info)

puts an importable package into OUT_DIR; add OUT_DIR to PYTHONPATH (or sys.path)
and `spacy.load("de_core_news_sm")` loads it, exactly like the installed model.
"""

from __future__ import annotations

import json
import random
import sys
import warnings
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.training import Example

SHARED = Path(__file__).resolve().parents[2] / "shared"
PUBLISHED = SHARED / "models" / "de_core_news_sm-3.7.0"
PACKAGE_NAME = "de_core_news_sm"

# Hand-made German sentences; the annotation is plausible but not checked (the
# twin's weights are not meant to be good, only the shapes and label sets real).
SENTENCES = [
    (
        "Oberbürgermeister Frank Dudda eröffnete am Montag in Herne den Fachtag .",
        {"Frank Dudda": "PER", "Herne": "LOC"},
    ),
    ("Die Stadt Hagen lädt zur Sitzung des Integrationsrates ein .", {"Stadt Hagen": "ORG"}),
    ("Anna Schmidt leitet das Amt für Kultur in Bochum .", {"Anna Schmidt": "PER", "Bochum": "LOC"}),
    ("Das Land Nordrhein-Westfalen fördert das Projekt „ Kultur verbindet “ .", {"Nordrhein-Westfalen": "LOC"}),
    ("Weitere Informationen gibt die Pressestelle der Stadt Dortmund .", {"Stadt Dortmund": "ORG"}),
]
PUNCT = {".", ",", "„", "“"}


def published_meta() -> dict[str, Any]:
    return json.loads((PUBLISHED / "meta.json").read_text(encoding="utf-8"))


def build_twin(published: Path = PUBLISHED, seed: int = 0) -> tuple[Language, list[str]]:
    """The initialised pipeline and the warnings spaCy gave while building it."""
    config = spacy.util.load_config(published / "config.cfg")
    meta = json.loads((published / "meta.json").read_text(encoding="utf-8"))
    config["initialize"]["lookups"] = None
    for component in config["initialize"]["components"].values():
        component.pop("labels", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        labels = meta["labels"]
        for name in ("tagger", "morphologizer", "parser", "ner"):
            for label in labels[name]:
                nlp.get_pipe(name).add_label(label)
        examples = _examples(nlp, labels, random.Random(seed))
        disabled = list(nlp.disabled)  # senter: initialize() skips disabled components, so it would have no weights
        for name in disabled:
            nlp.enable_pipe(name)
        nlp.initialize(lambda: examples)
        for name in disabled:
            nlp.disable_pipe(name)
    for key in ("name", "version", "description", "author", "email", "url", "license", "spacy_version", "sources"):
        if key in meta:
            nlp.meta[key] = meta[key]
    nlp.meta["notes"] = "presseabgleich test twin: the published architecture with untrained weights"
    return nlp, [f"{w.category.__name__}: {w.message}" for w in caught]


def _examples(nlp: Language, labels: dict[str, list[str]], rng: random.Random) -> list[Example]:
    """The sentences with fake tags, morphology, a flat dependency tree, lemmas and entities."""
    tags = labels["tagger"]
    morph_labels = [m for m in labels["morphologizer"] if "POS=" in m]
    examples = []
    for text, entities in SENTENCES:
        words = text.split()
        doc = nlp.make_doc(text)
        morphs, pos = [], []
        for _ in words:
            features = dict(part.split("=", 1) for part in rng.choice(morph_labels).split("|"))
            pos.append(features.pop("POS"))
            morphs.append("|".join(f"{k}={v}" for k, v in features.items()))
        spans = []
        for surface, label in entities.items():
            start = text.index(surface)
            spans.append((start, start + len(surface), label))
        root = next(i for i, w in enumerate(words) if w not in PUNCT and i > 0)
        annotation = {
            "words": words,
            "tags": [rng.choice(tags) for _ in words],
            "pos": pos,
            "morphs": morphs,
            "heads": [root] * len(words),
            "deps": ["ROOT" if i == root else ("punct" if w in PUNCT else "nk") for i, w in enumerate(words)],
            "lemmas": [w.lower() for w in words],
            "entities": spans,
            "sent_starts": [1] + [0] * (len(words) - 1),
        }
        examples.append(Example.from_dict(doc, annotation))
    return examples


INIT_PY = '''"""presseabgleich test twin of de_core_news_sm (see bench/twin.py)."""
from pathlib import Path

from spacy.util import get_model_meta, load_model_from_init_py

__version__ = get_model_meta(Path(__file__).parent)["version"]


def load(**overrides):
    return load_model_from_init_py(__file__, **overrides)
'''


def write_package(nlp: Language, site: Path) -> Path:
    """`site/de_core_news_sm/` laid out as `spacy package` + pip install lay it out
    (package folder with meta.json, data in `de_core_news_sm-VERSION/`) plus the
    dist-info that importlib.metadata (spacy.util.is_package) looks for."""
    version = nlp.meta["version"]
    package = site / PACKAGE_NAME
    package.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(package / f"{PACKAGE_NAME}-{version}")
    (package / "meta.json").write_text(json.dumps(nlp.meta, indent=2), encoding="utf-8")
    (package / "__init__.py").write_text(INIT_PY, encoding="utf-8")
    dist_info = site / f"{PACKAGE_NAME}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PACKAGE_NAME}\nVersion: {version}\nSummary: test twin\n", encoding="utf-8"
    )
    (dist_info / "top_level.txt").write_text(PACKAGE_NAME + "\n", encoding="utf-8")
    return package


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/twin.py OUT_DIR")
    nlp, caught = build_twin()
    package = write_package(nlp, Path(sys.argv[1]))
    for message in caught:
        print(f"warning while building: {message}", file=sys.stderr)
    print(package)


if __name__ == "__main__":
    main()
