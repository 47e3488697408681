"""Component `presseabgleich_corrections`: the statistical model's typical
press-text errors fixed on doc.ents, before the finders add what it missed.

- an entity never spans a line break ("Lena Vogt\\n\\nt");
- truncated compounds ("Presse-"), shouted heading words ("PRESSEINFORMATION"),
  lower-case spans (adjective derivations, "städtischen") and lone common nouns
  ("Fachbereich") are dropped;
- a town after a postcode ("58095 Hagen"), a place adjective ("Hagener") and a
  lone municipality that is no person's name become LOC;
- a generic noun in front of a place ("Kommunen Bochum", "Fachtags für Herne")
  is cut off, leaving the place;
- a place the gazetteer knows in a longer form is extended ("Mülheim" + "an der Ruhr").
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract.lexicon import (
    ARTICLES,
    LIST_JOINERS,
    PERSON_BREAKS,
    PLACE_PREPOSITIONS,
    Lexicon,
    get_lexicon,
    is_capitalised,
    is_initial,
)
from pipeline.extract.spans import rule_span

POSTCODE = re.compile(r"\d{5}")
PLACE_LEAD_INS = frozenset({"für", "in", "von", "aus", "der", "des", "und"})


class ModelCorrections:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        pieces = [
            piece
            for e in doc.ents
            for part in self.split_at_breaks(doc, e)
            for piece in self.split_place_adjective(doc, part)
        ]
        corrected = [c for c in (self.correct(doc, e) for e in pieces) if c is not None]
        corrected = self.places_in_lists(doc, corrected)
        doc.ents = filter_spans([self.extend_place(doc, e) for e in corrected])
        return doc

    def places_in_lists(self, doc: Doc, entities: list[Span]) -> list[Span]:
        """ "Bochum, Essen, Hagen und Herne": a one-word person that is a municipality, in a
        list beside places, is a place too (many municipalities are also surnames)."""
        places = {e.start: e for e in entities if e.label_ == "LOC"}
        place_ends = {e.end for e in places.values()}
        result = []
        for entity in entities:
            if entity.label_ == "PER" and len(entity) == 1 and self.lex.is_municipality(entity.text):
                before = (
                    entity.start >= 2 and doc[entity.start - 1].text in LIST_JOINERS and entity.start - 1 in place_ends
                )
                after = entity.end + 1 < len(doc) and doc[entity.end].text in LIST_JOINERS and entity.end + 1 in places
                if before or after:
                    entity = rule_span(doc, entity.start, entity.end, "LOC", "model+rule")
            result.append(entity)
        return result

    def split_at_breaks(self, doc: Doc, entity: Span) -> list[Span]:
        """No name spans a slash or a bar: "Bottrop / Lena" of "Foto: Stadt
        Bottrop/Lena Vogt" is two words of two names."""
        breaks = [t.i for t in entity if t.text in PERSON_BREAKS]
        if not breaks:
            return [entity]
        bounds = [entity.start - 1, *breaks, entity.end]
        return [
            rule_span(doc, start + 1, end, entity.label_, "model+rule")
            for start, end in zip(bounds, bounds[1:], strict=False)
            if end > start + 1
        ]

    def split_place_adjective(self, doc: Doc, entity: Span) -> list[Span]:
        """ "Bottroper VHS" → the place adjective "Bottroper" (LOC) and the organisation
        "VHS"; "Die Kölner Stadtgesellschaft" (MISC) → the place adjective "Kölner"."""
        if len(entity) < 2 or entity.label_ not in {"ORG", "MISC"}:
            return [entity]
        at = entity.start + 1 if entity[0].lower_ in ARTICLES else entity.start
        if at + 1 >= entity.end or not self.lex.is_place_adjective(doc[at].text):
            return [entity]
        return [
            rule_span(doc, at, at + 1, "LOC", "model+rule"),
            rule_span(doc, at + 1, entity.end, entity.label_, "model+rule"),
        ]

    def correct(self, doc: Doc, entity: Span) -> Span | None:
        """The corrected entity, or None where it is no name at all."""
        lex = self.lex
        entity = self._cut_at_line_break(doc, entity)
        if entity is None or entity.text.endswith("-") or not entity.text.strip():
            return None  # truncated compound: "Presse- und Öffentlichkeitsarbeit"
        entity = self._trim(doc, entity)
        if entity is None:
            return None
        first = entity[0].text
        label = entity.label_
        single = len(entity) == 1
        if not single and label != "PER" and lex.is_stop_word(entity[0]) and len(entity) == 2:
            if lex.is_common_noun(entity[1].text) or lex.is_common_compound(entity[1].text):
                return None  # "Unser Haus": a pronoun and a noun
        if single and lex.is_not_name(first):
            return None  # "im Mai", "Kurse in Deutsch"
        if single and label == "MISC" and lex.is_municipality(first) and not lex.is_common_noun(first):
            return rule_span(doc, entity.start, entity.end, "LOC", "model+rule")  # "Kreise Recklinghausen und Unna"
        if label == "ORG" and self._generic_nouns_listed(entity):
            return None  # "Rat und Verwaltung", "Gymnasium, Gesamtschule"
        if label in {"LOC", "ORG"} and self._looks_like_personal_name(entity):
            return rule_span(doc, entity.start, entity.end, "PER", "model+rule")
        if single and label in {"LOC", "ORG", "PER"} and first.isupper() and len(first) > 3:
            place = first.capitalize()
            if lex.is_municipality(place) or ("-" in first and lex.is_municipality(first.title())):
                return rule_span(doc, entity.start, entity.end, "LOC", "model+rule")  # rubric "BOTTROP"
        if single and first.isupper() and len(first) > 4 and lex.is_common_noun(first.capitalize()):
            return None  # a shouted heading word: "PRESSEINFORMATION"
        if label in {"PER", "ORG"} and entity.start > 0 and POSTCODE.fullmatch(doc[entity.start - 1].text):
            return rule_span(doc, entity.start, entity.end, "LOC", "model+rule")  # "58095 Hagen"
        if single and label in {"PER", "ORG"} and lex.is_place_adjective(first):
            if self._noun_follows(doc, entity.end) or not (lex.is_last_name(first) or lex.is_first_name(first)):
                return rule_span(doc, entity.start, entity.end, "LOC", "model+rule")
        after_preposition = entity.start > 0 and doc[entity.start - 1].lower_ in PLACE_PREPOSITIONS
        if (
            single
            and label in {"LOC", "ORG"}
            and lex.is_common_compound(first)
            and not lex.is_org_word(first)
            and not (label == "LOC" and after_preposition)  # "in Bergerhausen": the compound test is weak
        ):
            return None
        if (
            not single
            and label in {"ORG", "MISC"}
            and (lex.is_common_noun(first) or lex.is_common_compound(first))
            and not lex.is_org_word(first)
            and not lex.is_venue_word(first)
        ):
            # "Fachtags für Herne": a common noun in front of a place is not an organisation
            k = entity.start + 1
            while k < entity.end and doc[k].lower_ in PLACE_LEAD_INS:
                k += 1
            if k < entity.end and lex.longest_place_at(doc, k) == entity.end:
                return rule_span(doc, k, entity.end, "LOC", "model+rule")
        if label in {"PER", "LOC", "ORG"} and not first[:1].isupper():
            return None
        if single and label != "MISC":
            known_name = (
                lex.is_place(first)
                or lex.is_first_name(first)
                or lex.is_last_name(first)
                or lex.is_org_word(first)
                or first.isupper()
                or lex.is_place_adjective(first)
            )
            if lex.is_common_noun(first) and not known_name and label != "ORG":
                return None  # organisations are often named by a noun: "Bundeswehr", "Grünen"
            if (
                label in {"PER", "ORG"}
                and lex.is_municipality(first)
                and not (lex.is_first_name(first) or lex.is_last_name(first) or lex.is_common_noun(first))
            ):
                return rule_span(doc, entity.start, entity.end, "LOC", "model+rule")
        if (
            not single
            and lex.is_common_noun(first)
            and first.endswith(("en", "n", "e", "er", "s"))  # "Kommunen Bochum", not "Borussia Dortmund"
            and not lex.is_place(first)
            and not lex.is_org_word(first)
            and not lex.is_venue_word(first)
            and lex.longest_place_at(doc, entity.start + 1) == entity.end
        ):
            return rule_span(doc, entity.start + 1, entity.end, "LOC", "model+rule")
        return entity

    def _generic_nouns_listed(self, entity: Span) -> bool:
        """Common nouns joined by "und" or commas name no organisation."""
        lex = self.lex
        words = [t for t in entity if t.text not in LIST_JOINERS]
        return (
            len(words) < len(entity)
            and entity[1].text in LIST_JOINERS
            and all(
                lex.is_common_noun(t.text) or lex.is_org_word(t.text) or lex.is_common_compound(t.text) for t in words
            )
        )

    def _looks_like_personal_name(self, entity: Span) -> bool:
        """Two or three words, each a known given name, surname or middle initial, or
        a word no gazetteer knows at all, with a surname-like last word: "Iryna Kovalenko"."""
        lex = self.lex
        if not 2 <= len(entity) <= 3 or is_initial(entity[-1].text):
            return False
        return all(
            is_initial(t.text)
            or lex.is_unlisted_name_word(t)
            or ((lex.is_first_name(t.text) or lex.is_last_name(t.text)) and not lex.is_place(t.text))
            for t in entity
        )

    def _trim(self, doc: Doc, entity: Span) -> Span | None:
        """Trailing punctuation off every entity ("EINLADUNG /"); trailing common nouns
        off a place or a person ("Bottrop Beratungsgespräche", "Vogts Team")."""
        lex = self.lex
        start, end = entity.start, entity.end
        while end > start and doc[end - 1].is_punct and doc[end - 1].text not in {".", "’", "'"}:
            end -= 1
        if entity.label_ in {"LOC", "PER"}:
            while (
                end - start > 1
                and (lex.is_common_noun(doc[end - 1].text) or lex.is_common_compound(doc[end - 1].text))
                and not lex.is_last_name(doc[end - 1].text)
                and not lex.is_place(doc[start:end].text)
                and (entity.label_ == "PER" or lex.is_place(doc[start : end - 1].text))
            ):
                end -= 1
        if start >= end:
            return None
        if (start, end) == (entity.start, entity.end):
            return entity
        return rule_span(doc, start, end, entity.label_, "model+rule")

    def _cut_at_line_break(self, doc: Doc, entity: Span) -> Span | None:
        """Keep the part of an entity across line breaks with the most capitalised words."""
        breaks = [t.i for t in entity if "\n" in t.text]
        if not breaks:
            return entity
        parts = [(entity.start, breaks[0]), (breaks[-1] + 1, entity.end)]
        start, end = max(parts, key=lambda p: sum(1 for t in doc[p[0] : p[1]] if is_capitalised(t)))
        while end > start and not doc[end - 1].text.strip():
            end -= 1
        if start >= end:
            return None
        return rule_span(doc, start, end, entity.label_, "model+rule")

    def _noun_follows(self, doc: Doc, index: int) -> bool:
        if index >= len(doc) or not is_capitalised(doc[index]):
            return False
        text = doc[index].text
        return self.lex.is_common_noun(text) or self.lex.is_common_compound(text) or self.lex.is_org_word(text)

    def extend_place(self, doc: Doc, entity: Span) -> Span:
        """ "Mülheim" + "an der Ruhr" → one LOC when the gazetteer knows the long form."""
        if entity.label_ == "LOC":
            end = self.lex.longest_place_at(doc, entity.start)
            if end is not None and end > entity.end:
                return rule_span(doc, entity.start, end, "LOC", "model+rule")
        return entity


@Language.factory(
    "presseabgleich_corrections",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.ents"],
)
def make_model_corrections(nlp: Language, name: str, max_place_words: int) -> ModelCorrections:
    return ModelCorrections(get_lexicon(max_place_words))
