"""Mention rows of one processed document (the columns of mentions.parquet), and
which person each e-mail address or phone number belongs to."""

from __future__ import annotations

import bisect
import re
from array import array
from typing import Any

from spacy.tokens import Doc, Span

from pipeline.extract.spans import CONTACTS_KEY, NESTED_KEY
from pipeline.normalize import fold_din

SEGMENT = re.compile(r"\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(true|false)\s*\]")

CONTACT_LABELS = ("EMAIL", "PHONE", "FAX", "URL", "ADDRESS")
MENTION_COLUMNS = [
    "doc_id",
    "mention_id",
    "text",
    "label",
    "start",
    "end",
    "source_start",
    "source_end",
    "sentence",
    "label_source",
    "titles",
    "roles",
    "person_mention_id",
    "person",
    "nested_in",
]
# How far (characters) a phone number or e-mail may stand from the person it belongs to.
CONTACT_WINDOW = 300


class SourceOffsets:
    """Plain-text offsets → offsets in the decoded source file, from ingest's offset
    map (JSON list of [text_start, source_start, length, exact]); the same answers
    as pipeline.ingest.source_span.

    Compact for huge documents: the map is read with a regular expression instead
    of json.loads (no list per segment), and runs of exact segments that continue
    each other in both texts (a plain-text file is one run) are kept as one segment.
    """

    def __init__(self, serialised: str) -> None:
        self.text_starts = array("q")
        self.source_starts = array("q")
        self.lengths = array("q")
        self.exact = array("b")
        for match in SEGMENT.finditer(serialised):
            text_start, source_start, length = int(match[1]), int(match[2]), int(match[3])
            exact = match[4] == "true"
            if (
                exact
                and self.lengths
                and self.exact[-1]
                and self.text_starts[-1] + self.lengths[-1] == text_start
                and self.source_starts[-1] + self.lengths[-1] == source_start
            ):
                self.lengths[-1] += length
                continue
            self.text_starts.append(text_start)
            self.source_starts.append(source_start)
            self.lengths.append(length)
            self.exact.append(exact)

    def offset(self, text_offset: int) -> int:
        if not self.text_starts:
            return text_offset
        index = max(bisect.bisect_right(self.text_starts, text_offset) - 1, 0)
        if self.exact[index]:
            return self.source_starts[index] + min(text_offset - self.text_starts[index], self.lengths[index])
        return self.source_starts[index]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The end is mapped through the span's last character (see ingest.source_span)."""
        if end <= start:
            position = self.offset(start)
            return position, position
        return self.offset(start), self.offset(end - 1) + 1


def _email_matches(email: str, person: str) -> bool:
    local = set(re.split(r"[._-]", email.split("@", 1)[0].lower()))
    parts = [fold_din(p) for p in re.findall(r"[^\W\d_]{2,}", person)]
    return bool(parts) and parts[-1] in local


def tie_contacts(persons: list[Span], contacts: list[Span]) -> dict[int, Span]:
    """Contact span index → the person it belongs to.

    E-mails go to the person whose surname is in the local part. Phone and fax
    numbers (and unmatched e-mails) go to the nearest person before them within
    CONTACT_WINDOW characters, or in the same sentence, when no other contact of
    the same kind stands between them (office numbers in a letterhead stay untied).
    """
    ties: dict[int, Span] = {}
    for index, contact in enumerate(contacts):
        if contact.label_ in {"URL", "ADDRESS"}:
            continue
        if contact.label_ == "EMAIL":
            matching = [p for p in persons if _email_matches(contact.text, p.text)]
            if matching:
                ties[index] = min(matching, key=lambda p: abs(p.start_char - contact.start_char))
                continue
        before = [p for p in persons if p.end_char <= contact.start_char]
        if not before:
            continue
        nearest = max(before, key=lambda p: p.end_char)
        same_sentence = nearest.sent == contact.sent if nearest.doc.has_annotation("SENT_START") else False
        close = contact.start_char - nearest.end_char <= CONTACT_WINDOW
        blocked = any(
            other.label_ == contact.label_ and nearest.end_char <= other.start_char < contact.start_char
            for other in contacts
            if other is not contact
        )
        if (same_sentence or close) and not blocked:
            ties[index] = nearest
    return ties


def _key(span: Span) -> tuple[int, int, str]:
    return (span.start, span.end, span.label_)


def doc_mentions(
    doc: Doc, doc_id: str, offsets: SourceOffsets, base: int = 0, first_number: int = 1
) -> list[dict[str, Any]]:
    """Mention rows of one processed document, or of one chunk of a long document
    starting at character `base` (pure: no I/O)."""
    entities = list(doc.ents)
    contacts = list(doc.spans.get(CONTACTS_KEY, []))
    nested = list(doc.spans.get(NESTED_KEY, []))
    spans = sorted(entities + contacts + nested, key=lambda s: (s.start_char, -s.end_char, s.label_))
    ids = {_key(span): f"{doc_id}#{n:04d}" for n, span in enumerate(spans, first_number)}
    persons = [e for e in entities if e.label_ == "PER"]
    person_of = {_key(contacts[i]): person for i, person in tie_contacts(persons, contacts).items()}
    parent_of = {
        _key(n): parent for n in nested for parent in entities if parent.start <= n.start and n.end <= parent.end
    }
    has_sentences = doc.has_annotation("SENT_START")
    rows = []
    for span in spans:
        key = _key(span)
        person = person_of.get(key)
        parent = parent_of.get(key)
        is_entity = span.label_ not in CONTACT_LABELS
        source = offsets.span(base + span.start_char, base + span.end_char)
        rows.append(
            {
                "doc_id": doc_id,
                "mention_id": ids[key],
                "text": span.text,
                "label": span.label_,
                "start": base + span.start_char,
                "end": base + span.end_char,
                "source_start": source[0],
                "source_end": source[1],
                "sentence": span.sent.text.strip() if has_sentences else "",
                "label_source": span._.label_source if is_entity else "rule",
                "titles": " ".join(span._.titles) if is_entity else "",
                "roles": " | ".join(span._.roles) if is_entity else "",
                "person_mention_id": ids[_key(person)] if person is not None else "",
                "person": person.text if person is not None else "",
                "nested_in": ids[_key(parent)] if parent is not None else "",
            }
        )
    return rows
