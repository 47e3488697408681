"""Rule layer over the statistical NER, for what press releases need and models miss.

Runs as the spaCy component `presseabgleich_rules` after `ner`:
- contacts (e-mail, phone, fax, web address, postal address) into doc.spans["contacts"];
- academic titles and role words around person names: split off the entity,
  recorded per person (Span._.titles, Span._.roles), and used to find persons
  the model missed ("Stadtrat Andreas Merkendorf");
- places from the German municipality gazetteer, with genitive ("Hernes") and
  adjective ("Hagener") forms, and the longest gazetteer form ("Mülheim an der Ruhr");
- organisations: "Stadt <place>", names ending in a legal form ("ACADI e.V."),
  quoted names after an organisation word (Städtekooperation „…“), and long
  ministry/university names the model cuts into pieces.
Every entity records where its label came from (Span._.label_source).
"""

from __future__ import annotations

import functools
import re

from spacy.lang.de.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from pipeline.gazetteers import Gazetteers, load_gazetteers
from pipeline.normalize import CODEPAGE_DAMAGE

CONTACTS_KEY = "contacts"
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
ORG_CONNECTORS = {"für", "des", "der", "und", "zur", "zum", ",", "-", "&"}
# Prepositions after which an ambiguous word ("Essen") is read as a place; not the
# contracted forms with an article ("im Feld"), which introduce common nouns.
PLACE_PREPOSITIONS = {"in", "aus", "nach", "bei", "von", "bis", "ab", "gen", "über"}
# Words after which a gazetteer name inside an organisation name is a place: "des Landes NRW".
PLACE_CUES = {"Landes", "Stadt", "Kreises", "Kreis", "Bezirks", "Gemeinde", "in", "aus"}
POSTCODE = re.compile(r"\d{5}")
INITIAL = re.compile(r"[A-ZÄÖÜ]\.")
PERSON_BREAKS = {"/", "|", "(", ")", "[", "]", "·", "•"}
ORG_PREFIX_KINDS = {"Stadt", "Gemeinde", "Kreis", "Landkreis", "Bezirksregierung", "Landeshauptstadt", "Hansestadt"}
LEGAL_FORMS = {"e.V.", "e. V.", "GmbH", "gGmbH", "AG", "KG", "OHG", "UG", "eG", "mbH", "SE", "KGaA"}
QUOTES_OPEN = {"„", "“", '"', "»", "«", "‚", "'"}
QUOTES_CLOSE = {"“", "”", '"', "«", "»", "‘", "'"}
ROLE_SUFFIXES = (
    "leiter",
    "leiterin",
    "sprecher",
    "sprecherin",
    "direktor",
    "direktorin",
    "beauftragter",
    "beauftragte",
    "präsident",
    "präsidentin",
    "minister",
    "ministerin",
    "bürgermeister",
    "bürgermeisterin",
    "referent",
    "referentin",
    "vorsitzender",
    "vorsitzende",
    "dezernent",
    "dezernentin",
)

for name in ("titles", "roles"):
    if not Span.has_extension(name):
        Span.set_extension(name, default=())
if not Span.has_extension("label_source"):
    Span.set_extension("label_source", default="model")
NESTED_KEY = "nested"
WORD_CACHE_SIZE = 200_000  # distinct words remembered per word class (bounded for huge archives)


def is_capitalised(token: Token) -> bool:
    return token.text[:1].isupper()


class RuleLayer:
    def __init__(self, gazetteers: Gazetteers, max_place_words: int = 5) -> None:
        self.gaz = gazetteers
        self.max_place_words = max_place_words
        self.title_words = {t.rstrip(".") for t in gazetteers.titles} | set(gazetteers.titles)
        # first token of every place name ("Mülheim" of "Mülheim an der Ruhr", "Nordrhein" of
        # "Nordrhein-Westfalen"): lets longest_place_at skip all other tokens at once
        self.place_starts = frozenset(
            part for name in gazetteers.places for part in {name.split()[0], name.split()[0].split("-")[0]}
        )
        # The rules ask about the same few thousand words again and again; compound
        # analysis and suffix tests are worth remembering per word.
        self.is_org_word = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(gazetteers.is_org_word)
        self.is_venue_word = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(gazetteers.is_venue_word)
        self._is_title_text = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(self._title_text)
        self._is_role_text = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(self._role_text)

    # --- word classes ---------------------------------------------------------

    def is_title(self, token: Token) -> bool:
        return self._is_title_text(token.text)

    def is_role(self, token: Token) -> bool:
        return self._is_role_text(token.text)

    def _title_text(self, text: str) -> bool:
        return text in self.gaz.titles or (text.rstrip(".") in self.title_words and text.endswith("."))

    def _role_text(self, text: str) -> bool:
        if text in self.gaz.roles or (text.endswith("s") and text[:-1] in self.gaz.roles):
            return True
        return text[:1].isupper() and len(text) > 8 and text.lower().endswith(ROLE_SUFFIXES)

    def is_place(self, text: str) -> bool:
        return text in self.gaz.german_municipalities or text in self.gaz.places

    def is_ambiguous_place(self, text: str) -> bool:
        return text in self.gaz.common_nouns or text in self.gaz.first_names or text in self.gaz.last_names

    def is_first_name(self, text: str) -> bool:
        """Known given name, also after repairing code-page damage ("Aslý" → "Aslı")."""
        return text in self.gaz.first_names or text.translate(CODEPAGE_DAMAGE) in self.gaz.first_names

    def is_common_compound(self, text: str) -> bool:
        """An unlisted compound of a common noun ("Begrüßungsrede" → Rede), not a name."""
        if len(text) < 8 or not text.isalpha() or self.is_place(text) or text in self.gaz.last_names:
            return False
        return any(text[cut:].capitalize() in self.gaz.common_nouns for cut in range(3, len(text) - 3))

    def is_name_like(self, token: Token) -> bool:
        """A capitalised token that can be part of a person's name."""
        text = token.text
        if not text[:1].isupper() or token.is_punct:
            return False
        if re.fullmatch(r"[A-ZÄÖÜ]\.", text):
            return True  # middle initial
        if self.is_title(token) or self.is_role(token) or self.is_org_word(text):
            return False
        if text in self.gaz.first_names or text in self.gaz.last_names:
            return True
        return text not in self.gaz.common_nouns and text.isalpha() or "-" in text

    # --- the component --------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        contacts = self.find_contacts(doc)
        doc.spans[CONTACTS_KEY] = contacts
        # e-mail, phone and web addresses are never part of a name; a postal address may contain places
        contact_tokens = {i for span in contacts if span.label_ != "ADDRESS" for i in range(span.start, span.end)}
        entities = [e for e in doc.ents if not any(i in contact_tokens for i in range(e.start, e.end))]
        entities = self.correct_model_entities(doc, entities)
        entities = self.trim_persons(doc, entities)
        entities = self.extend_places(doc, entities)
        proposals = (
            self.find_persons(doc, entities) + self.find_places(doc, entities) + self.find_organisations(doc, entities)
        )
        proposals = [p for p in proposals if not any(i in contact_tokens for i in range(p.start, p.end))]
        doc.ents = self.merge(entities, proposals)
        for entity in doc.ents:
            if entity.label_ == "PER":
                self.attach_titles_and_roles(doc, entity)
        doc.spans[NESTED_KEY] = self.nested_places(doc)
        if not doc.has_annotation("DEP"):
            # no sentence boundary inside a name ("Integration.Interkommunal" is not two sentences)
            for span in list(doc.ents) + list(doc.spans[CONTACTS_KEY]):
                for token in span[1:]:
                    token.is_sent_start = False
        return doc

    def nested_places(self, doc: Doc) -> list[Span]:
        """Gazetteer places inside organisation names ("… des Landes Nordrhein-Westfalen")."""
        nested = []
        for entity in doc.ents:
            if entity.label_ != "ORG":
                continue
            i = entity.start
            while i < entity.end:
                end = self.longest_place_at(doc, i)
                cued = i > entity.start and doc[i - 1].text in PLACE_CUES
                if end is not None and end <= entity.end and (cued or not self.is_ambiguous_place(doc[i:end].text)):
                    span = Span(doc, i, end, label="LOC")
                    span._.label_source = "rule"
                    nested.append(span)
                    i = end
                else:
                    i += 1
        return nested

    def correct_model_entities(self, doc: Doc, entities: list[Span]) -> list[Span]:
        """Fix the statistical model's typical press-text errors.

        - lower-case PER/LOC/ORG spans are adjective derivations ("städtischen"), not names;
        - a single known common noun that no gazetteer knows as a name ("Fachbereich") is dropped;
        - a generic noun in front of a place ("Kommunen Bochum") is cut off, leaving the place;
        - a single-token PER/ORG that is a German municipality and no person's name becomes LOC.
        """
        corrected = []
        for entity in entities:
            # an entity never spans a line break ("Franziska Michels\n\nt")
            breaks = [t.i for t in entity if "\n" in t.text]
            if breaks:
                parts = [(entity.start, breaks[0]), (breaks[-1] + 1, entity.end)]
                start, end = max(parts, key=lambda p: sum(1 for t in doc[p[0] : p[1]] if is_capitalised(t)))
                while end > start and not doc[end - 1].text.strip():
                    end -= 1
                if start >= end:
                    continue
                entity = Span(doc, start, end, label=entity.label_)
                entity._.label_source = "model+rule"
            if entity.text.endswith("-") or not entity.text.strip():
                continue  # truncated compound: "Presse- und Öffentlichkeitsarbeit"
            first = entity[0].text
            label = entity.label_
            if len(entity) == 1 and first.isupper() and len(first) > 4 and first.capitalize() in self.gaz.common_nouns:
                continue  # a shouted heading word: "PRESSEINFORMATION"
            if label in {"PER", "ORG"} and entity.start > 0 and POSTCODE.fullmatch(doc[entity.start - 1].text):
                span = Span(doc, entity.start, entity.end, label="LOC")  # "58095 Hagen": a postcode's town
                span._.label_source = "model+rule"
                corrected.append(span)
                continue
            following = doc[entity.end] if entity.end < len(doc) else None
            noun_follows = (
                following is not None
                and is_capitalised(following)
                and (
                    following.text in self.gaz.common_nouns
                    or self.is_common_compound(following.text)
                    or self.is_org_word(following.text)
                )
            )
            if (
                len(entity) == 1
                and label in {"PER", "ORG"}
                and self.gaz.is_place_adjective(first)
                and (noun_follows or not (first in self.gaz.last_names or first in self.gaz.first_names))
            ):
                span = Span(doc, entity.start, entity.end, label="LOC")
                span._.label_source = "model+rule"
                corrected.append(span)
                continue
            if (
                len(entity) == 1
                and label in {"LOC", "ORG"}
                and self.is_common_compound(first)
                and not self.is_org_word(first)
            ):
                continue
            if (
                len(entity) > 1
                and label in {"ORG", "MISC"}
                and (first in self.gaz.common_nouns or self.is_common_compound(first))
                and not self.is_org_word(first)
            ):
                # "Fachtags für Herne": a common noun in front of a place is not an organisation
                k = entity.start + 1
                while k < entity.end and doc[k].lower_ in {"für", "in", "von", "aus", "der", "des", "und"}:
                    k += 1
                end = self.longest_place_at(doc, k) if k < entity.end else None
                if end is not None and end == entity.end:
                    span = Span(doc, k, entity.end, label="LOC")
                    span._.label_source = "model+rule"
                    corrected.append(span)
                    continue
            if label in {"PER", "LOC", "ORG"} and not first[:1].isupper():
                continue
            if len(entity) == 1 and label != "MISC":
                text = entity.text
                known_name = (
                    self.is_place(text)
                    or text in self.gaz.first_names
                    or text in self.gaz.last_names
                    or self.is_org_word(text)
                    or text.isupper()
                    or self.gaz.is_place_adjective(text)
                )
                if text in self.gaz.common_nouns and not known_name and label != "ORG":
                    continue  # organisations are often named by a noun: "Bundeswehr", "Grünen"
                if (
                    label in {"PER", "ORG"}
                    and text in self.gaz.german_municipalities
                    and not (
                        text in self.gaz.first_names or text in self.gaz.last_names or text in self.gaz.common_nouns
                    )
                ):
                    span = Span(doc, entity.start, entity.end, label="LOC")
                    span._.label_source = "model+rule"
                    corrected.append(span)
                    continue
            if (
                len(entity) > 1
                and first in self.gaz.common_nouns
                and first.endswith(("en", "n", "e", "er", "s"))  # "Kommunen Bochum", not "Borussia Dortmund"
                and not self.is_place(first)
                and not self.is_org_word(first)
            ):
                end = self.longest_place_at(doc, entity.start + 1)
                if end is not None and end == entity.end:
                    span = Span(doc, entity.start + 1, entity.end, label="LOC")
                    span._.label_source = "model+rule"
                    corrected.append(span)
                    continue
            corrected.append(entity)
        return corrected

    def merge(self, entities: list[Span], proposals: list[Span]) -> list[Span]:
        """Rule spans win over model spans they overlap when they are longer or
        replace a wrong label; otherwise the model span stays."""
        chosen = list(entities)
        for proposal in sorted(proposals, key=lambda s: (-(s.end - s.start), s.start)):
            overlapping = [e for e in chosen if e.start < proposal.end and proposal.start < e.end]
            if all(
                (proposal.end - proposal.start) >= (e.end - e.start)
                and proposal.start <= e.start
                and e.end <= proposal.end
                for e in overlapping
            ):
                for e in overlapping:
                    chosen.remove(e)
                same = [
                    e
                    for e in overlapping
                    if (e.start, e.end, e.label_) == (proposal.start, proposal.end, proposal.label_)
                ]
                proposal._.label_source = (
                    "model+rule"
                    if same or overlapping and all(e.label_ == proposal.label_ for e in overlapping)
                    else "rule"
                )
                chosen.append(proposal)
        return filter_spans(chosen)

    def find_contacts(self, doc: Doc) -> list[Span]:
        found: list[Span] = []
        text = doc.text
        for label, pattern in (("EMAIL", EMAIL), ("URL", URL), ("ADDRESS", ADDRESS), ("PHONE", PHONE)):
            for match in pattern.finditer(text):
                start, end = match.span()
                if label == "URL" and "@" in match.group():
                    continue
                if label == "PHONE":
                    digits = re.sub(r"\D", "", match.group())
                    if len(digits) < 6 or len(digits) > 15 or re.fullmatch(r"(?:19|20)\d\d", match.group().strip()):
                        continue
                    if FAX_CUE.search(text[max(0, start - 12) : start]):
                        label = "FAX"
                span = doc.char_span(start, end, label=label, alignment_mode="expand")
                if span is not None:
                    found.append(span)
                label = "PHONE" if label == "FAX" else label
        return filter_spans(found)

    def trim_persons(self, doc: Doc, entities: list[Span]) -> list[Span]:
        """Repair PER boundaries: titles, roles and greetings out ("Hallo Herr Müller"),
        a given name just before the span in ("Franziska" + "Michels"), and a surname
        after a span that ends in a middle initial or given name ("David A." + "Längen")."""
        trimmed = []
        occupied = {i for e in entities for i in range(e.start, e.end)}
        for entity in entities:
            if entity.label_ != "PER":
                trimmed.append(entity)
                continue
            start = entity.start
            while start < entity.end and (
                self.is_title(doc[start])
                or self.is_role(doc[start])
                or doc[start].lower_ in {"hallo", "liebe", "lieber", "sehr", "geehrte", "geehrter"}
            ):
                start += 1
            end = next((k for k in range(start, entity.end) if doc[k].text in PERSON_BREAKS), entity.end)
            while end > start and (doc[end - 1].is_punct and doc[end - 1].text != "."):
                end -= 1
            if start < end:
                while (
                    start > 0
                    and start - 1 not in occupied
                    and self.is_first_name(doc[start - 1].text)
                    and is_capitalised(doc[start - 1])
                    and doc[start - 1].lower_ not in STOP_WORDS
                    and start > entity.start - 2
                ):
                    start -= 1
                while (
                    end < len(doc)
                    and end not in occupied
                    and (INITIAL.fullmatch(doc[end - 1].text) or self.is_first_name(doc[end - 1].text))
                    and self._can_end_name(doc[end])
                    and end < entity.end + 2
                ):
                    end += 1
                span = Span(doc, start, end, label="PER")
                span._.label_source = (
                    "model+rule" if (start, end) != (entity.start, entity.end) else entity._.label_source
                )
                trimmed.append(span)
        return trimmed

    def _can_end_name(self, token: Token) -> bool:
        """A capitalised word that can stand as (part of) a surname, common noun or not ("Längen")."""
        return (
            is_capitalised(token)
            and not token.is_punct
            and "\n" not in token.text
            and token.lower_ not in STOP_WORDS
            and not (self.is_title(token) or self.is_role(token) or self.is_org_word(token.text))
        )

    def longest_place_at(self, doc: Doc, start: int) -> int | None:
        """End index of the longest gazetteer place starting at token `start`."""
        if doc[start].text not in self.place_starts:
            return None
        best = None
        for length in range(1, self.max_place_words + 1):
            end = start + length
            if end > len(doc):
                break
            text = doc[start:end].text
            if self.is_place(text) and doc[end - 1].text[:1].isupper():
                best = end
        return best

    def extend_places(self, doc: Doc, entities: list[Span]) -> list[Span]:
        """ "Mülheim" + "an der Ruhr" → one LOC when the gazetteer knows the long form."""
        extended = []
        for entity in entities:
            if entity.label_ == "LOC":
                end = self.longest_place_at(doc, entity.start)
                if end is not None and end > entity.end:
                    span = Span(doc, entity.start, end, label="LOC")
                    span._.label_source = "model+rule"
                    extended.append(span)
                    continue
            extended.append(entity)
        return filter_spans(extended)

    def find_places(self, doc: Doc, entities: list[Span]) -> list[Span]:
        taken = {i for e in entities for i in range(e.start, e.end)}
        candidates: list[tuple[Span, bool]] = []
        i = 0
        while i < len(doc):
            token = doc[i]
            if i in taken or not is_capitalised(token):
                i += 1
                continue
            end = self.longest_place_at(doc, i)
            if end is not None:
                text = doc[i:end].text
                if end - i == 1 and text.lower() in STOP_WORDS:
                    i += 1
                    continue
                ambiguous = end - i == 1 and (self.is_ambiguous_place(text) or token.is_sent_start)
                candidates.append((Span(doc, i, end, label="LOC"), ambiguous))
                i = end
                continue
            word = token.text
            # Genitive ("Hernes Oberbürgermeister") and adjective ("Hagener Vereine")
            # forms of German municipalities, before another capitalised word.
            following = doc[i + 1] if i + 1 < len(doc) else None
            if following is not None and is_capitalised(following) and len(word) > 4:
                base = None
                if word.endswith("s") and word[:-1] in self.gaz.german_municipalities:
                    base = word[:-1]
                elif word.endswith("er") and (
                    word[:-2] in self.gaz.german_municipalities or word[:-1] in self.gaz.german_municipalities
                ):
                    base = word[:-2]
                # before a common noun ("Dortmunder Vereine") the form is clear even where
                # Wiktionary also lists it as a noun (the inhabitant "Dortmunder")
                noun_follows = (
                    following.text in self.gaz.common_nouns
                    or self.is_role(following)
                    or self.is_org_word(following.text)
                )
                if base is not None:
                    candidates.append(
                        (Span(doc, i, i + 1, label="LOC"), word in self.gaz.common_nouns and not noun_follows)
                    )
            i += 1
        place_starts = {s.start for s, _ in candidates} | {e.start for e in entities if e.label_ == "LOC"}
        place_ends = {s.end for s, _ in candidates} | {e.end for e in entities if e.label_ == "LOC"}
        accepted = []
        for span, ambiguous in candidates:
            if ambiguous and not self._place_context(doc, span, place_starts, place_ends):
                continue
            span._.label_source = "rule"
            accepted.append(span)
        return accepted

    def _place_context(self, doc: Doc, span: Span, place_starts: set[int], place_ends: set[int]) -> bool:
        """An ambiguous word counts as a place after a preposition or inside a list of places."""
        before = doc[span.start - 1] if span.start > 0 else None
        after = doc[span.end] if span.end < len(doc) else None
        if before is not None and before.lower_ in PLACE_PREPOSITIONS:
            return True
        if before is not None and before.text in {",", "und", "oder", "sowie"} and (span.start - 1) in place_ends:
            return True
        if after is not None and after.text in {",", "und", "oder", "sowie"} and (span.end + 1) in place_starts:
            return True
        return False

    def find_persons(self, doc: Doc, entities: list[Span]) -> list[Span]:
        """Persons the model missed or mislabelled: a role or title followed by a
        capitalised name, or a known first name followed by a surname."""
        taken = {i for e in entities for i in range(e.start, e.end) if e.label_ == "PER"}
        found = []
        for i, token in enumerate(doc[:-1]):
            if (
                token.text not in self.gaz.first_names
                or i in taken
                or token.lower_ in STOP_WORDS
                or len(token.text) < 3
            ):
                continue
            following = doc[i + 1].text
            if token.text in self.gaz.common_nouns and (
                following in self.gaz.common_nouns and following not in self.gaz.last_names
            ):
                continue  # "Hagen" the noun or place before another noun, not a given name
            if i > 0 and (doc[i - 1].text in self.gaz.first_names and doc[i - 1].text[:1].isupper()):
                continue  # the name started one token earlier
            k = i + 1
            # middle initials and further given names, then one surname (which may be
            # a common noun: "Weiß", "Michels")
            while (
                k < len(doc)
                and k - i < 3
                and (
                    re.fullmatch(r"[A-ZÄÖÜ]\.", doc[k].text)
                    or doc[k].text in self.gaz.first_names
                    and k + 1 < len(doc)
                    and is_capitalised(doc[k + 1])
                )
            ):
                k += 1
            if (
                k < len(doc)
                and is_capitalised(doc[k])
                and not doc[k].is_punct
                and doc[k].lower_ not in STOP_WORDS
                and not (
                    self.is_title(doc[k])
                    or self.is_role(doc[k])
                    or self.is_org_word(doc[k].text)
                    or self.is_venue_word(doc[k].text)
                )
            ):
                k += 1
            if k - i >= 2 and not self.is_org_word(doc[k - 1].text) and not any(t in taken for t in range(i, k)):
                last = doc[k - 1].text
                if re.fullmatch(r"[A-ZÄÖÜ]\.", last):
                    continue
                span = Span(doc, i, k, label="PER")
                span._.label_source = "rule"
                found.append(span)
        i = 0
        while i < len(doc):
            if not (self.is_title(doc[i]) or self.is_role(doc[i])):
                i += 1
                continue
            j = i + 1
            while j < len(doc) and (self.is_title(doc[j]) or (self.is_role(doc[j]) and doc[j].text != "OB")):
                j += 1
            k = j
            while k < len(doc) and k - j < 4 and self.is_name_like(doc[k]):
                k += 1
            if k - j >= 1 and not any(t in taken for t in range(j, k)):
                # one word alone only after a title ("Frau Müller", "Dr. Schlee"), or when it is a known surname
                if k - j >= 2 or self.is_title(doc[j - 1]) or doc[j].text in self.gaz.last_names:
                    span = Span(doc, j, k, label="PER")
                    span._.label_source = "rule"
                    found.append(span)
            i = max(k, i + 1)
        # Apposition: "Aslý Sevindim, Abteilungsleiterin …" — names before ", <role>".
        for r in range(2, len(doc)):
            if doc[r - 1].text != "," or not self.is_role(doc[r]) or (r - 2) in taken:
                continue
            start = r - 1
            while (
                start > 0
                and r - 1 - start < 4
                and self.is_name_like(doc[start - 1])
                and not doc[start - 1].is_sent_start
            ):
                start -= 1
            if r - 1 - start >= 2 and not any(t in taken for t in range(start, r - 1)):
                span = Span(doc, start, r - 1, label="PER")
                span._.label_source = "rule"
                found.append(span)
        return found

    def find_organisations(self, doc: Doc, entities: list[Span]) -> list[Span]:
        found: list[Span] = []
        for i, token in enumerate(doc):
            text = token.text
            # "Stadt Hagen", "Kreis Unna": a municipal body named by its place.
            if text in ORG_PREFIX_KINDS and i + 1 < len(doc):
                end = self.longest_place_at(doc, i + 1)
                if end is not None:
                    found.append(Span(doc, i, end, label="ORG"))
            # Names ending in a legal form: "ACADI e.V.", "Muster Bau GmbH".
            if text in LEGAL_FORMS and i > 0 and is_capitalised(doc[i - 1]):
                start = i
                while (
                    start > 0
                    and i - start < 5
                    and is_capitalised(doc[start - 1])
                    and not self.is_org_word(doc[start - 1].text)
                    and not (doc[start - 1].text in self.gaz.common_nouns and start < i)
                    and not self.gaz.is_place_adjective(doc[start - 1].text)
                ):
                    start -= 1
                if start < i:
                    found.append(Span(doc, start, i + 1, label="ORG"))
            # Quoted names after an organisation word: Städtekooperation „Integration.Interkommunal“.
            if text in QUOTES_OPEN and i > 0 and self.is_org_word(doc[i - 1].text):
                close = next((k for k in range(i + 1, min(i + 12, len(doc))) if doc[k].text in QUOTES_CLOSE), None)
                if close is not None and close > i + 1 and is_capitalised(doc[i + 1]):
                    found.append(Span(doc, i + 1, close, label="ORG"))
            # Long names built on an organisation head word.
            if (
                (self.is_org_word(text) or self.is_venue_word(text))
                and is_capitalised(token)
                and text not in LEGAL_FORMS
                and not self.is_role(token)
            ):
                span = self._org_phrase(doc, i)
                if span is not None:
                    found.append(span)
        # A legal name ("Kulturbrücke Witten e.V.") beats a descriptor-led phrase that
        # overlaps it ("Verein Kulturbrücke Witten").
        legal = [s for s in found if s[-1].text in LEGAL_FORMS]
        found = [
            s
            for s in found
            if s in legal or not any(n.start < s.end and s.start < n.end and n.end > s.end for n in legal)
        ]
        for span in found:
            span._.label_source = "rule"
        return found

    def _org_phrase(self, doc: Doc, head: int) -> Span | None:
        """Head word plus its name: "Ministerium für Kinder, …, und Integration des Landes NRW",
        "Universität Duisburg-Essen", "Kolping Hochschule für Gesundheit und Soziales"."""
        end = head + 1
        k = head + 1
        named = False
        while k < len(doc):
            token = doc[k]
            if token.text in ORG_CONNECTORS:
                # connectors only continue the name when a capitalised name word follows them
                j = k
                while j < len(doc) and doc[j].text in ORG_CONNECTORS:
                    j += 1
                if (
                    j < len(doc)
                    and is_capitalised(doc[j])
                    and not doc[j].is_punct
                    and not self.is_title(doc[j])
                    and not self.is_role(doc[j])
                    and doc[j].text not in ORG_PREFIX_KINDS
                    and not (token.text == "," and self.is_place(doc[j].text))  # "…-Stiftung, München"
                    and not (  # "… und der Universität X" starts a new name; "für Schule" does not
                        self.is_org_word(doc[j].text)
                        and token.text in {"und", ","}
                        and doc[j - 1].lower_ in {"der", "des", "dem", "den", "die"}
                    )
                ):
                    k = j
                    continue
                break
            if (
                is_capitalised(token)
                and not token.is_punct
                and not self.is_role(token)
                and not self.is_title(token)
                and not doc[k].is_sent_start
                and token.text not in ORG_PREFIX_KINDS
                and token.lower_ not in STOP_WORDS
            ):
                k += 1
                end = k
                named = True
                continue
            break
        # To the left only adjectives ("Kommunalen", "Evangelische") and proper names
        # ("Kolping"), never a plain common noun ("Gründer Feuerwehr …").
        start = head
        while (
            start > 0
            and is_capitalised(doc[start - 1])
            and not doc[start - 1].is_sent_start
            and not doc[start - 1].is_punct
            and not self.is_role(doc[start - 1])
            and not self.is_title(doc[start - 1])
            and doc[start - 1].text not in self.gaz.german_municipalities
            and not self.gaz.is_place_adjective(doc[start - 1].text)
            and not self.is_org_word(doc[start - 1].text)
            and doc[start - 1].lower_ not in STOP_WORDS
            and (
                doc[start - 1].text not in self.gaz.common_nouns
                or doc[start - 1].text.endswith(("e", "en", "er", "es", "em"))
            )
        ):
            start -= 1
        if not named and start == head:
            return None
        if not named:
            return Span(doc, start, head + 1, label="LOC" if self.is_venue_word(doc[head].text) else "ORG")
        if start == head and doc[head + 1].lower_ in {"der", "des"} and self.longest_place_at(doc, head + 2) == end:
            return None  # "Bank der Schweiz": a generic noun and a place, not a name
        # A bare head with a generic noun after it ("Stadt Herne" is handled above) is not a name
        # unless a connector or a place/proper noun follows it.
        next_token = doc[head + 1]
        if next_token.text not in ORG_CONNECTORS and (
            next_token.text in self.gaz.common_nouns and not self.is_place(next_token.text)
        ):
            return None
        label = "LOC" if self.is_venue_word(doc[head].text) else "ORG"
        return Span(doc, start, end, label=label)

    def attach_titles_and_roles(self, doc: Doc, entity: Span) -> None:
        titles: list[str] = []
        roles: list[str] = []
        k = entity.start - 1
        role_words: list[str] = []
        while k >= 0 and (
            self.is_title(doc[k]) or self.is_role(doc[k]) or doc[k].text == "und" and k > 0 and self.is_role(doc[k - 1])
        ):
            if self.is_title(doc[k]):
                titles.insert(0, doc[k].text)
            elif doc[k].text != "und":
                role_words.insert(0, doc[k].text)
            k -= 1
        if role_words:
            roles.append(" und ".join(role_words))
        # Apposition: "David A. Lüngen, Sprecher der Städtekooperation und Stadtdirektor in …,"
        if entity.end + 1 < len(doc) and doc[entity.end].text == "," and self.is_role(doc[entity.end + 1]):
            k = entity.end + 1
            stop = k
            while (
                stop < len(doc)
                and stop - k < 16
                and doc[stop].text not in {",", ".", ":", ";", "(", "“", "„"}
                and not doc[stop].is_sent_start
                or stop == k
            ):
                stop += 1
            roles.append(doc[k:stop].text)
        entity._.titles = tuple(titles)
        entity._.roles = tuple(roles)


@Language.factory("presseabgleich_rules", default_config={"max_place_words": 5})
def make_rule_layer(nlp: Language, name: str, max_place_words: int) -> RuleLayer:
    return RuleLayer(load_gazetteers(), max_place_words=max_place_words)


def add_rule_layer(nlp: Language) -> Language:
    if "presseabgleich_rules" not in nlp.pipe_names:
        nlp.add_pipe("presseabgleich_rules", last=True)
    return nlp
