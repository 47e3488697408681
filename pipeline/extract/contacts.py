"""Component `presseabgleich_contacts`: e-mail, phone, fax, web and postal
addresses into doc.spans["contacts"]; model entities over an e-mail, phone or
web address are dropped (a name never contains one)."""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract.spans import CONTACTS_KEY, contact_tokens

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"()\[\]|]+[^\s<>\"()\[\]|.,;:!?)]", re.IGNORECASE)
PHONE = re.compile(
    r"(?<![\w+/])(?:\+\d{1,3}|00\d{2}|0)[ \t]?(?:\(0\)[ \t]?)?\d{2,5}(?:[ \t/-]{1,3}\d{1,6}){1,5}(?![\w/])"
)
FAX_CUE = re.compile(r"(?:fax|telefax|\bf)\W{0,3}$", re.IGNORECASE)
STREET = (
    r"[A-ZÄÖÜ][\wäöüß.-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|markt|chaussee)"
    r"|(?:Am|An der|Auf dem|Im|In der|Zum|Zur)\s+[A-ZÄÖÜ][\wäöüß-]+"
)
ADDRESS = re.compile(
    rf"(?:(?:{STREET})\s+\d+\s?[a-z]?(?:\s*[|,]\s*|\s+))?(?:Postfach\s+[\d ]+\d\s*[|,]\s*)?\b\d{{5}}\s+[A-ZÄÖÜ][\wäöüß-]+"
    rf"|(?:{STREET})\s+\d+\s?[a-z]?\b|Postfach\s+\d[\d ]*\d"
)


def find_contacts(doc: Doc) -> list[Span]:
    found: list[Span] = []
    text = doc.text
    for label, pattern in (("EMAIL", EMAIL), ("URL", URL), ("ADDRESS", ADDRESS), ("PHONE", PHONE)):
        for match in pattern.finditer(text):
            start, end = match.span()
            kind = label
            if label == "URL" and "@" in match.group():
                continue
            if label == "PHONE":
                digits = re.sub(r"\D", "", match.group())
                if len(digits) < 6 or len(digits) > 15 or re.fullmatch(r"(?:19|20)\d\d", match.group().strip()):
                    continue
                if FAX_CUE.search(text[max(0, start - 12) : start]):
                    kind = "FAX"
            span = doc.char_span(start, end, label=kind, alignment_mode="expand")
            if span is not None:
                found.append(span)
    return filter_spans(found)


class ContactFinder:
    def __call__(self, doc: Doc) -> Doc:
        doc.spans[CONTACTS_KEY] = find_contacts(doc)
        taken = contact_tokens(doc)
        if taken:
            doc.ents = [e for e in doc.ents if not any(i in taken for i in range(e.start, e.end))]
        return doc


@Language.factory("presseabgleich_contacts", assigns=["doc.spans", "doc.ents"])
def make_contact_finder(nlp: Language, name: str) -> ContactFinder:
    return ContactFinder()
