"""What the rule components share: span keys, span extensions, making rule spans.

The components follow spaCy's span_ruler: each finder writes its proposals into
doc.spans[CANDIDATES_KEY]; `presseabgleich_entities` decides which of them
become doc.ents. Every entity records where its label came from
(Span._.label_source: "model", "rule" or "model+rule"); persons carry the
titles and role words split off them (Span._.titles, Span._.roles).
"""

from __future__ import annotations

from spacy.tokens import Doc, Span

CONTACTS_KEY = "contacts"
NESTED_KEY = "nested"
CANDIDATES_KEY = "rule_candidates"

for _name in ("titles", "roles"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=())
if not Span.has_extension("label_source"):
    Span.set_extension("label_source", default="model")


def rule_span(doc: Doc, start: int, end: int, label: str, source: str = "rule") -> Span:
    span = Span(doc, start, end, label=label)
    span._.label_source = source
    return span


def add_candidates(doc: Doc, spans: list[Span]) -> None:
    """Append rule proposals for `presseabgleich_entities` to choose from."""
    existing = list(doc.spans.get(CANDIDATES_KEY, []))
    doc.spans[CANDIDATES_KEY] = existing + spans


def contact_tokens(doc: Doc) -> set[int]:
    """Tokens of e-mail, phone and web addresses: never part of a name (a postal
    address may contain places)."""
    return {
        i for span in doc.spans.get(CONTACTS_KEY, []) if span.label_ != "ADDRESS" for i in range(span.start, span.end)
    }


def keep_in_one_sentence(spans: list[Span]) -> None:
    """No sentence boundary inside a name ("Ruhr.Vernetzt" is not two
    sentences); only where no parser decided the sentences."""
    for span in spans:
        if span.doc.has_annotation("DEP"):
            return
        for token in span[1:]:
            token.is_sent_start = False
