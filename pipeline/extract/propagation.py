"""Component `presseabgleich_propagation`: what a document says once about a
name holds for the whole document (the standard document-level pass of NER
systems; press texts name a person in full once and by surname afterwards).

- Persons: a full name ("Jonas Brehmer") licenses its surname ("Brehmer"), the
  surname's genitive ("Brehmers", "Kuntz’" – the apostrophe after s, z, x, ß)
  and lower-case writings of the full name or surname ("jonas brehmer" in a photo
  credit). A place or organisation span that is exactly such a surname becomes
  the person, unless a preposition of place stands before it ("in Soest").
- Abbreviations defined in the text: "Kommunales Integrationszentrum (KI)" makes
  every later "KI" an organisation (the abbreviation must start with the
  name's first letter).
- Repeated names: a multi-word organisation or place found once is found at
  each of its other occurrences in the document too, and so is the head part of
  an organisation or venue name ("der Seniorenrat" after "Seniorenrat
  Bottrop", "des Seniorenrates" included).
- One-word persons that no full name licenses and no title or role introduces
  are dropped when they are common nouns ("Kita"), and are places after a
  preposition of place ("aus Charkiw").

Only tokens outside other entities and contacts are labelled.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract.lexicon import (
    APOSTROPHE_GENITIVE_ENDINGS,
    APOSTROPHES,
    PLACE_PREPOSITIONS,
    Lexicon,
    genitive_stems,
    get_lexicon,
    is_initial,
)
from pipeline.extract.spans import contact_tokens, keep_in_one_sentence, rule_span

ADJECTIVE_ENDING = re.compile(r"(?:e|en|er|es|em)$")
ABBREVIATION = re.compile(r"[A-ZÄÖÜ][A-Za-zÄÖÜäöü]{0,9}")


class DocumentPropagation:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        entities = list(doc.ents)
        relabelled, entities = self.surnames_mislabelled(doc, entities)
        taken = {i for e in entities for i in range(e.start, e.end)} | contact_tokens(doc)
        added = self.person_forms(doc, entities, taken)
        taken |= {i for s in added for i in range(s.start, s.end)}
        added += self.abbreviations(doc, entities, taken)
        taken |= {i for s in added for i in range(s.start, s.end)}
        added += self.repeated_names(doc, entities, taken)
        taken |= {i for s in added for i in range(s.start, s.end)}
        added += self.organisation_short_forms(doc, entities, taken)
        if added or relabelled:
            doc.ents = filter_spans(entities + added)
            keep_in_one_sentence(added)
        return doc

    # --- persons ------------------------------------------------------------------

    def name_tokens(self, person: Span) -> list[str]:
        """The words of a person's name without titles, roles and greetings."""
        lex = self.lex
        return [t.text for t in person if not (lex.is_title_or_role(t) or lex.is_greeting(t) or t.is_punct)]

    def surnames(self, entities: list[Span]) -> dict[str, str]:
        """surname → full name, for persons named with given name and surname."""
        found: dict[str, str] = {}
        for person in entities:
            if person.label_ != "PER":
                continue
            words = self.name_tokens(person)
            if len(words) < 2 or is_initial(words[-1]) or "," in person.text:
                continue
            surname = words[-1]
            if len(surname) < 2 or not surname[:1].isupper() or self.lex.is_title_or_role(person[-1]):
                continue
            found.setdefault(surname, " ".join(words))
        return found

    def surnames_mislabelled(self, doc: Doc, entities: list[Span]) -> tuple[bool, list[Span]]:
        """A one-word place or organisation that is the surname of a person named in
        the document ("Soest" after "Jonas Soest") is that person."""
        surnames = set(self.surnames(entities))
        forms = surnames | {s + "s" for s in surnames if not s.endswith(APOSTROPHE_GENITIVE_ENDINGS)}
        lex = self.lex
        changed = False
        result = []
        for entity in entities:
            after_preposition = entity.start > 0 and doc[entity.start - 1].lower_ in PLACE_PREPOSITIONS
            if entity.label_ == "PER":
                kept = self.single_person_kept(doc, entity, forms)
                if kept is not entity:
                    changed = True
                if kept is not None:
                    result.append(kept)
            elif (
                entity.label_ in {"LOC", "ORG", "MISC"}
                and entity[0].text in forms
                and not after_preposition
                and all(lex.is_common_noun(t.text) for t in entity[1:])
            ):
                # "Soest" after "Jonas Soest"; "Brehmers Appell" → the person "Brehmers"
                result.append(rule_span(doc, entity.start, entity.start + 1, "PER", "model+rule"))
                changed = True
            else:
                result.append(entity)
        return changed, result

    def single_person_kept(self, doc: Doc, person: Span, licensed: set[str]) -> Span | None:
        """A one-word person no full name in the document licenses and no title or role
        introduces: a common noun is no person ("Kita", "Herbst"), a place after a
        preposition of place is the place ("aus Charkiw")."""
        lex = self.lex
        word = person[0].text
        if len(person) > 1 and not (len(person) == 2 and person[1].text in APOSTROPHES):
            return person
        if word in licensed or (person.start > 0 and lex.is_title_or_role(doc[person.start - 1])):
            return person
        if lex.is_place(word) and person.start > 0 and doc[person.start - 1].lower_ in PLACE_PREPOSITIONS:
            return rule_span(doc, person.start, person.end, "LOC", "model+rule")
        if lex.is_first_name(word):
            return person
        if lex.is_common_noun(word) or lex.is_common_compound(word):
            return None
        return person

    def person_forms(self, doc: Doc, entities: list[Span], taken: set[int]) -> list[Span]:
        surnames = self.surnames(entities)
        if not surnames:
            return []
        genitives = {s + "s": s for s in surnames if not s.endswith(APOSTROPHE_GENITIVE_ENDINGS)}
        lower_names = {full.lower().split()[0]: full.lower().split() for full in surnames.values()}
        found = []
        i = 0
        while i < len(doc):
            token = doc[i]
            if i in taken:
                i += 1
                continue
            text = token.text
            end = None
            if text in surnames or text in genitives:
                end = i + 1
                if (
                    text in surnames
                    and text.endswith(APOSTROPHE_GENITIVE_ENDINGS)
                    and i + 1 < len(doc)
                    and doc[i + 1].text in APOSTROPHES
                    and not token.whitespace_
                    and i + 1 not in taken
                ):
                    end = i + 2  # "Kuntz’"
            elif text.islower() and text in lower_names:
                words = lower_names[text]
                candidate = [t.text for t in doc[i : i + len(words)]]
                if candidate == words and not any(k in taken for k in range(i, i + len(words))):
                    end = i + len(words)
            if end is not None:
                found.append(rule_span(doc, i, end, "PER"))
                i = end
                continue
            i += 1
        return found

    # --- organisations and places -------------------------------------------------

    def abbreviations(self, doc: Doc, entities: list[Span], taken: set[int]) -> list[Span]:
        """ "Name (ABK)" defines ABK as the organisation's short name."""
        defined: set[str] = set()
        for entity in entities:
            if entity.label_ != "ORG" or entity.end + 2 >= len(doc):
                continue
            opening, short, closing = doc[entity.end], doc[entity.end + 1], doc[entity.end + 2]
            if opening.text != "(" or closing.text != ")" or not ABBREVIATION.fullmatch(short.text):
                continue
            upper = sum(1 for c in short.text if c.isupper())
            if upper < 2 or short.text[0].lower() != entity.text[0].lower():
                continue
            defined.add(short.text)
        if not defined:
            return []
        return [rule_span(doc, t.i, t.i + 1, "ORG") for t in doc if t.text in defined and t.i not in taken]

    def stem(self, word: str) -> str:
        """A word without genitive or adjective endings, to match inflected forms of
        one name ("Kommunales Integrationszentrum" ~ "Kommunalen Integrationszentrums")."""
        for stem in reversed(genitive_stems(word)):
            if stem != word and self.lex.is_org_word(stem):
                return stem
        return ADJECTIVE_ENDING.sub("", word) if word[:1].isupper() else word

    def organisation_short_forms(self, doc: Doc, entities: list[Span], taken: set[int]) -> list[Span]:
        """The head part of an organisation's or venue's name found in the document
        ("Seniorenrat" of "Seniorenrat Bottrop", "Kommunales Integrationszentrum"
        of "Kommunales Integrationszentrum Herford", "Technologiepark" of
        "Technologiepark Herford") names it again, in any case form. Not a
        generic head alone ("Verwaltung", "Saal"), and not for associations with a
        legal form: "der Verein" is a description, not their name."""
        lex = self.lex
        short_forms: dict[tuple[str, ...], str] = {}
        for entity in entities:
            if entity.label_ not in {"ORG", "LOC"} or lex.is_legal_form(entity[-1].text):
                continue
            is_head = lex.is_org_word if entity.label_ == "ORG" else lex.is_venue_word
            head = next((t.i for t in entity if is_head(t.text)), None)
            if head is None or head == entity.end - 1 and entity.label_ == "LOC":
                continue
            if lex.is_generic_org_noun(doc[head].text) or lex.is_generic_venue_noun(doc[head].text):
                if head == entity.start:
                    continue
            if any(not t.text[:1].isupper() for t in doc[entity.start : head + 1]):
                continue
            short_forms[tuple(self.stem(t.text) for t in doc[entity.start : head + 1])] = entity.label_
        if not short_forms:
            return []
        found = []
        i = 0
        while i < len(doc):
            matched = None
            for form in sorted(short_forms, key=len, reverse=True):
                end = i + len(form)
                if (
                    end <= len(doc)
                    and not any(k in taken for k in range(i, end))
                    and tuple(self.stem(t.text) for t in doc[i:end]) == form
                ):
                    matched = rule_span(doc, i, end, short_forms[form])
                    break
            if matched is not None:
                found.append(matched)
                i = matched.end
            else:
                i += 1
        return found

    def repeated_names(self, doc: Doc, entities: list[Span], taken: set[int]) -> list[Span]:
        """Other occurrences of multi-word organisation and place names."""
        names: dict[tuple[str, ...], str] = {}
        for entity in entities:
            if entity.label_ in {"ORG", "LOC"} and len(entity) >= 2:
                names.setdefault(tuple(t.text for t in entity), entity.label_)
        if not names:
            return []
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for words in sorted(names, key=len, reverse=True):
            by_first.setdefault(words[0], []).append(words)
        found = []
        i = 0
        while i < len(doc):
            matched = None
            for words in by_first.get(doc[i].text, ()):
                end = i + len(words)
                if (
                    end <= len(doc)
                    and tuple(t.text for t in doc[i:end]) == words
                    and not any(k in taken for k in range(i, end))
                ):
                    matched = rule_span(doc, i, end, names[words])
                    break
            if matched is not None:
                found.append(matched)
                i = matched.end
            else:
                i += 1
        return found


@Language.factory(
    "presseabgleich_propagation",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.ents"],
)
def make_document_propagation(nlp: Language, name: str, max_place_words: int) -> DocumentPropagation:
    return DocumentPropagation(get_lexicon(max_place_words))
