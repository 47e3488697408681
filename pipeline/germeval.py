"""GermEval 2014 NER files: reading, label mappings, the official outer-level metric.

The model is trained on GermEval's own outer labels (PER, LOC, ORG, OTH and their
`deriv` and `part` subtypes), so it can be scored with the shared task's metric.
The pipeline speaks PER/LOC/ORG/MISC; the `presseabgleich_pipeline_labels`
component, saved after `ner` in the trained model, maps each entity:
- PER, LOC, ORG keep their names; OTH becomes spaCy's MISC.
- `deriv` subtypes ("Hagener" B-LOCderiv) take their base type: press texts name
  places through such adjectives and the reconciliation stage resolves "Hagener"
  to Hagen.
- `part` subtypes ("Ruhrgebietsstädte" B-LOCpart) are dropped: the token is a
  compound common noun, not a name, and reporting it as a place misleads.
Only the outer (first-level) annotation is used; nested tags are ignored.

Two file formats are read: the dev/test `.tsv` files (index, token, outer tag,
nested tag, with `#` source lines) and the training `.iob2` file (token, outer
tag, nested tag; no index, no comment lines, so a "#" token is a token).
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

BASE_LABELS = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "OTH": "MISC"}
FINE_LABELS = tuple(f"{base}{sub}" for base in BASE_LABELS for sub in ("", "deriv", "part"))
NO_SPACE_BEFORE = set(",.;:!?)]}%") | {"''", "'s"}
NO_SPACE_AFTER = set("([{")


@dataclass(frozen=True)
class Sentence:
    source: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]  # GermEval outer tags as in the file ("B-LOCderiv")


def pipeline_label(fine_label: str) -> str | None:
    """GermEval outer label → the pipeline's label, None for `part` and unknown labels."""
    if fine_label.endswith("part"):
        return None
    return BASE_LABELS.get(fine_label.removesuffix("deriv"))


def map_tag(tag: str) -> str:
    """GermEval outer tag → BIO tag over PER/LOC/ORG/MISC (see module docstring)."""
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, label = tag.split("-", 1)
    mapped = pipeline_label(label)
    return f"{prefix}-{mapped}" if mapped else "O"


def _check_tag(path: Path, line_number: int, tag: str) -> str:
    if tag != "O" and (tag[:2] not in {"B-", "I-"} or tag[2:] not in FINE_LABELS):
        raise ValueError(f"{path}:{line_number}: unknown GermEval tag {tag!r}")
    return tag


def read_germeval(path: Path) -> Iterator[Sentence]:
    """Sentences of a GermEval file, `.tsv` (4 columns) or `.iob2` (3 columns).

    The format is decided by the first token line and then enforced, so a file of
    another shape fails with its name and line instead of being read wrongly."""
    source = ""
    tokens: list[str] = []
    tags: list[str] = []
    columns = 0
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            line = line.rstrip("\n").rstrip("\r")
            if columns != 3 and (line.startswith("#\t") or line.startswith("# ")):
                source = line[2:].strip()
                continue
            if not line.strip():
                if tokens:
                    yield Sentence(source, tuple(tokens), tuple(tags))
                tokens, tags = [], []
                continue
            fields = line.split("\t")
            while len(fields) > 3 and fields[-1] == "":
                fields.pop()  # a stray trailing tab (the test file has one)
            if not columns:
                columns = len(fields)
                if columns not in (3, 4):
                    raise ValueError(
                        f"{path}:{line_number}: expected 3 (token, outer, nested) or 4 (index, token, outer, "
                        f"nested) tab-separated fields, found {columns}"
                    )
            if len(fields) != columns:
                raise ValueError(f"{path}:{line_number}: expected {columns} tab-separated fields, found {len(fields)}")
            token, tag = (fields[0], fields[1]) if columns == 3 else (fields[1], fields[2])
            tokens.append(token)
            tags.append(_check_tag(path, line_number, tag))
    if tokens:
        yield Sentence(source, tuple(tokens), tuple(tags))


def _spaces(tokens: Sequence[str]) -> list[bool]:
    """Guess the whitespace GermEval's tokenisation removed, so doc.text reads naturally."""
    spaces = []
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        space = following is not None
        if following is not None and (
            following in NO_SPACE_BEFORE
            or (len(following) == 1 and following in string.punctuation and following not in "\"'-–(&/")
        ):
            space = False
        if token in NO_SPACE_AFTER:
            space = False
        spaces.append(space)
    return spaces


def sentence_to_doc(vocab: Vocab, sentence: Sentence, fine: bool = True) -> Doc:
    """A Doc of the sentence's own tokens with its entities: GermEval's outer labels
    (`fine`, what the model trains on) or the pipeline's labels."""
    tags = sentence.tags if fine else tuple(map_tag(t) for t in sentence.tags)
    return Doc(vocab, words=list(sentence.tokens), spaces=_spaces(sentence.tokens), ents=list(_repair_bio(tags)))


def _repair_bio(tags: Sequence[str]) -> list[str]:
    """spaCy rejects an I- tag that does not continue an entity of its type; GermEval
    has a few (after a `part` tag was mapped away, or as annotation slips): such an
    I- tag starts a chunk, as in the official metric."""
    repaired = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
        previous = tag
    return repaired


def docs_from_files(vocab: Vocab, paths: Iterable[Path], fine: bool = True) -> list[Doc]:
    return [sentence_to_doc(vocab, s, fine=fine) for path in paths for s in read_germeval(path)]


def sentences_from_files(paths: Iterable[Path]) -> list[Sentence]:
    return [s for path in paths for s in read_germeval(path)]


# --- the official metric -------------------------------------------------------------


def chunks(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """(start, end, label) of every chunk in a BIO sequence. As in GermEval's
    evaluation script (and conlleval), an I- tag that does not continue a chunk of its
    label starts a new one."""
    found = set()
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if label and not (prefix == "I" and name == label):
            found.add((start, i, label))
            label = ""
        if prefix in {"B", "I"} and not label:
            start, label = i, name
    return found


def score_chunks(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> dict[str, Any]:
    """Exact-span, exact-label precision/recall/F1 over chunks, micro-averaged overall
    and per label: GermEval 2014's outer-chunk metric when given outer tags."""
    true_positive: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_predicted: Counter[str] = Counter()
    sentences = 0
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        sentences += 1
        gold_chunks, predicted_chunks = chunks(gold_tags), chunks(predicted_tags)
        n_gold.update(label for _, _, label in gold_chunks)
        n_predicted.update(label for _, _, label in predicted_chunks)
        true_positive.update(label for _, _, label in gold_chunks & predicted_chunks)

    def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float | int]:
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_true if n_true else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"p": round(p, 4), "r": round(r, 4), "f": round(f, 4), "gold": n_true}

    labels = sorted(set(n_gold) | set(n_predicted))
    return {
        "sentences": sentences,
        **prf(sum(true_positive.values()), sum(n_predicted.values()), sum(n_gold.values())),
        "per_type": {label: prf(true_positive[label], n_predicted[label], n_gold[label]) for label in labels},
    }


def doc_tags(doc: Doc) -> list[str]:
    """BIO tags of a doc's entities."""
    return [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in {"B", "I"} else "O" for t in doc]


# --- fine labels → pipeline labels at run time -------------------------------------


@Language.factory("presseabgleich_pipeline_labels")
def create_pipeline_labels(nlp: Language, name: str) -> PipelineLabels:
    """Maps the model's GermEval labels to PER/LOC/ORG/MISC (module docstring)."""
    return PipelineLabels()


class PipelineLabels:
    def __call__(self, doc: Doc) -> Doc:
        entities = []
        for entity in doc.ents:
            label = pipeline_label(entity.label_) if entity.label_ in FINE_LABELS else entity.label_
            if label is not None:
                entities.append(entity if label == entity.label_ else Span(doc, entity.start, entity.end, label))
        doc.ents = entities
        return doc
