"""Places from the gazetteers.

- `presseabgleich_places`: German municipalities, regions and countries the
  model missed, the longest gazetteer form first ("Mülheim an der Ruhr"), with
  genitive ("Hernes") and adjective ("Hagener") forms; a name that is also a
  noun or a person's name ("Essen", "Herford") only after a preposition or inside a
  list of places. Proposals go to doc.spans["rule_candidates"].
- `presseabgleich_nested_places`: places inside organisation names ("… des
  Landes Nordrhein-Westfalen", "Stadt Bochum") into doc.spans["nested"].
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.extract.lexicon import LIST_JOINERS, PLACE_CUES, PLACE_PREPOSITIONS, Lexicon, get_lexicon, is_capitalised
from pipeline.extract.spans import NESTED_KEY, add_candidates, contact_tokens, rule_span


class PlaceFinder:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        entities = list(doc.ents)
        taken = {i for e in entities for i in range(e.start, e.end)} | contact_tokens(doc)
        candidates = self.candidates(doc, taken)
        place_starts = {s.start for s, _ in candidates} | {e.start for e in entities if e.label_ == "LOC"}
        place_ends = {s.end for s, _ in candidates} | {e.end for e in entities if e.label_ == "LOC"}
        add_candidates(
            doc,
            [
                span
                for span, ambiguous in candidates
                if not ambiguous or self.in_place_context(doc, span, place_starts, place_ends)
            ],
        )
        return doc

    def candidates(self, doc: Doc, taken: set[int]) -> list[tuple[Span, bool]]:
        """(place span, whether it needs a place context) for every gazetteer match."""
        lex = self.lex
        found: list[tuple[Span, bool]] = []
        i = 0
        while i < len(doc):
            token = doc[i]
            if i in taken or not is_capitalised(token):
                i += 1
                continue
            end = lex.longest_place_at(doc, i)
            if end is not None:
                text = doc[i:end].text
                if end - i == 1 and (lex.is_stop_word(token) or lex.is_not_name(text)):
                    i += 1
                    continue
                ambiguous = end - i == 1 and (lex.is_ambiguous_place(text) or token.is_sent_start)
                found.append((rule_span(doc, i, end, "LOC"), ambiguous))
                i = end
                continue
            inflected = self.inflected_place(doc, i)
            if inflected is not None:
                found.append(inflected)
            elif self.is_unlisted_place(doc, i):
                found.append((rule_span(doc, i, i + 1, "LOC"), False))
            i += 1
        return found

    def inflected_place(self, doc: Doc, i: int) -> tuple[Span, bool] | None:
        """Genitive ("Hernes Oberbürgermeister") and adjective ("Hagener Vereine")
        forms of German municipalities, before another capitalised word."""
        lex = self.lex
        word = doc[i].text
        if i + 1 >= len(doc) or not is_capitalised(doc[i + 1]) or len(word) <= 4:
            return None
        is_genitive = word.endswith("s") and lex.is_municipality(word[:-1])
        is_adjective = word.endswith("er") and (
            lex.is_municipality(word[:-2])
            or lex.is_municipality(word[:-1])
            or (word.endswith("häuser") and lex.is_municipality(word[:-6] + "hausen"))
        )
        if not (is_genitive or is_adjective):
            return None
        following = doc[i + 1]
        # before a common noun ("Dortmunder Vereine") the form is clear even where
        # Wiktionary also lists it as a noun (the inhabitant "Dortmunder")
        noun_follows = (
            lex.is_common_noun(following.text)
            or lex.is_common_compound(following.text)
            or lex.is_role(following)
            or lex.is_org_word(following.text)
        )
        return rule_span(doc, i, i + 1, "LOC"), lex.is_common_noun(word) and not noun_follows

    def is_unlisted_place(self, doc: Doc, i: int) -> bool:
        """A district or small place no gazetteer lists, where only a place can stand:
        "in Bergerhausen", "aus der Südstadt" (a word no list knows, or a
        direction-named district, after a preposition of place and maybe an
        article, and not followed by a noun it would qualify)."""
        lex = self.lex
        token = doc[i]
        k = i - 1
        if k >= 0 and doc[k].lower_ in {"der", "dem"}:
            k -= 1
        if k < 0 or doc[k].lower_ not in PLACE_PREPOSITIONS | {"im"} or token.is_sent_start:
            return False
        if i + 1 < len(doc) and is_capitalised(doc[i + 1]) and not doc[i + 1].is_punct:
            return False
        if lex.is_district_name(token.text):
            return True
        if k == i - 2 or doc[k].lower_ == "im":
            return False  # "in der Kita", "im Feld": after an article only named districts
        return lex.is_unlisted_name_word(token) and not lex.is_first_name(token.text)

    def in_place_context(self, doc: Doc, span: Span, place_starts: set[int], place_ends: set[int]) -> bool:
        """An ambiguous word counts as a place after a preposition or inside a list of places."""
        before = doc[span.start - 1] if span.start > 0 else None
        after = doc[span.end] if span.end < len(doc) else None
        if before is not None and before.lower_ in PLACE_PREPOSITIONS:
            return True
        if (
            before is not None
            and before.lower_ in {"der", "dem"}
            and span.start > 1
            and doc[span.start - 2].lower_ in PLACE_PREPOSITIONS
            and self.lex.is_district_name(span.text)
        ):
            return True  # "in der Südstadt", but not "in der Kita"
        if before is not None and before.text in LIST_JOINERS and (span.start - 1) in place_ends:
            return True
        return after is not None and after.text in LIST_JOINERS and (span.end + 1) in place_starts


class NestedPlaces:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        nested = []
        for entity in doc.ents:
            if entity.label_ == "ORG":
                nested.extend(self.places_in(doc, entity))
            elif entity.label_ == "LOC" and len(entity) > 1 and self.lex.is_venue_word(entity[0].text):
                nested.extend(self.places_in_venue(doc, entity))
        doc.spans[NESTED_KEY] = nested
        return doc

    def places_in_venue(self, doc: Doc, venue: Span) -> list[Span]:
        """The place a venue is named after: "Bergerhausen" in "Bahnhof Bergerhausen"."""
        lex = self.lex
        found = []
        for token in venue[1:]:
            known = lex.longest_place_at(doc, token.i) == token.i + 1
            if known or (lex.is_unlisted_name_word(token) and not lex.is_first_name(token.text)):
                found.append(rule_span(doc, token.i, token.i + 1, "LOC"))
        return found

    def places_in(self, doc: Doc, entity: Span) -> list[Span]:
        found = []
        i = entity.start
        while i < entity.end:
            end = self.lex.longest_place_at(doc, i)
            cued = i > entity.start and doc[i - 1].text in PLACE_CUES
            if end is not None and end <= entity.end and (cued or not self.lex.is_ambiguous_place(doc[i:end].text)):
                found.append(rule_span(doc, i, end, "LOC"))
                i = end
            else:
                i += 1
        return found


@Language.factory(
    "presseabgleich_places",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.spans"],
)
def make_place_finder(nlp: Language, name: str, max_place_words: int) -> PlaceFinder:
    return PlaceFinder(get_lexicon(max_place_words))


@Language.factory(
    "presseabgleich_nested_places",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.spans"],
)
def make_nested_places(nlp: Language, name: str, max_place_words: int) -> NestedPlaces:
    return NestedPlaces(get_lexicon(max_place_words))
