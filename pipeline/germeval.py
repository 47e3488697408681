"""GermEval 2014 NER files: reading, label mapping, conversion to spaCy docs.

Label mapping (used for training and for scoring, so both speak one language):
- PER, LOC, ORG keep their names; OTH becomes spaCy's MISC.
- `deriv` subtypes ("Hagener" B-LOCderiv) map to their base type: press texts
  name places through such adjectives and the reconciliation stage resolves
  "Hagener" to Hagen.
- `part` subtypes ("Ruhrgebietsstädte" B-LOCpart) map to O: the token is a
  compound common noun, not a name, and reporting it as a place misleads.
Only the outer (first-level) annotation is used; nested tags are ignored.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc
from spacy.vocab import Vocab

BASE_LABELS = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "OTH": "MISC"}
NO_SPACE_BEFORE = set(",.;:!?)]}%") | {"''", "'s"}
NO_SPACE_AFTER = set("([{")


@dataclass(frozen=True)
class Sentence:
    source: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def map_tag(tag: str) -> str:
    """GermEval outer tag → BIO tag over PER/LOC/ORG/MISC (see module docstring)."""
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, label = tag.split("-", 1)
    if label.endswith("part"):
        return "O"
    label = label.removesuffix("deriv")
    mapped = BASE_LABELS.get(label)
    return f"{prefix}-{mapped}" if mapped else "O"


def read_germeval(path: Path) -> Iterator[Sentence]:
    """Sentences of a GermEval TSV file (index, token, outer tag, nested tag)."""
    source = ""
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if line.startswith("#\t") or line.startswith("# "):
                source = line[2:].strip()
                continue
            if not line.strip():
                if tokens:
                    yield Sentence(source, tuple(tokens), tuple(tags))
                tokens, tags = [], []
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                raise ValueError(f"{path}:{line_number}: expected 4 tab-separated fields")
            tokens.append(fields[1])
            tags.append(map_tag(fields[2]))
    if tokens:
        yield Sentence(source, tuple(tokens), tuple(tags))


def _spaces(tokens: tuple[str, ...]) -> list[bool]:
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


def sentence_to_doc(vocab: Vocab, sentence: Sentence) -> Doc:
    return Doc(vocab, words=list(sentence.tokens), spaces=_spaces(sentence.tokens), ents=list(sentence.tags))


def docs_from_files(vocab: Vocab, paths: Iterable[Path]) -> list[Doc]:
    return [sentence_to_doc(vocab, s) for path in paths for s in read_germeval(path)]
