"""Component `presseabgleich_persons`: person names.

- Model PER spans are repaired: titles, role words and greetings are cut off
  the front ("Hallo Herr Müller" → "Müller"; the titles_roles component records
  them), a span ends at a character no name contains ("/", "|", "("), a given
  name just before the span joins it ("Lena" + "Vogt"), and so does a
  surname after a span ending in a middle initial or given name ("Peter K." + "Brandt").
- Persons the model missed go to doc.spans["rule_candidates"]: a known given
  name followed by a surname; a title or role followed by a capitalised name
  ("Stadtrat Jonas Brehmer", "Frau Weber"); a name before ", <role>"
  ("Jana Ostermann, Sprecherin der …").
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.extract.lexicon import (
    APOSTROPHE_GENITIVE_ENDINGS,
    APOSTROPHES,
    PERSON_BREAKS,
    Lexicon,
    get_lexicon,
    is_capitalised,
    is_initial,
)
from pipeline.extract.spans import add_candidates, contact_tokens, rule_span

# A role word that often stands for a role *and* the name ("OB Brehmer") but must not
# chain further role words into the name: "OB" alone ends the role run.
ROLE_ONLY_BEFORE_NAME = frozenset({"OB"})


class PersonFinder:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        doc.ents = self.repair_model_persons(doc, list(doc.ents))
        persons = [e for e in doc.ents if e.label_ == "PER"]
        taken = {i for e in persons for i in range(e.start, e.end)}
        found = (
            self.after_given_name(doc, taken)
            + self.after_title_or_role(doc, taken)
            + self.before_role(doc, taken)
            + self.inverted_names(doc, taken)
        )
        blocked = contact_tokens(doc)
        add_candidates(doc, [s for s in found if not any(i in blocked for i in range(s.start, s.end))])
        return doc

    def name_start(self, doc: Doc, start: int, end: int) -> int:
        """First token of a span after titles, role words and greetings."""
        lex = self.lex
        while start < end and (lex.is_title_or_role(doc[start]) or lex.is_greeting(doc[start])):
            start += 1
        return start

    def repair_model_persons(self, doc: Doc, entities: list[Span]) -> list[Span]:
        lex = self.lex
        repaired = []
        occupied = {i for e in entities for i in range(e.start, e.end)}
        claimed: set[int] = set()  # tokens of the persons repaired so far
        for entity in entities:
            if entity.label_ != "PER":
                repaired.append(entity)
                continue
            start = self.name_start(doc, entity.start, entity.end)
            end = next((k for k in range(start, entity.end) if doc[k].text in PERSON_BREAKS), entity.end)
            while end > start and (doc[end - 1].is_punct and doc[end - 1].text != "."):
                end -= 1
            if start >= end:
                continue
            while (
                start > 0
                and start > entity.start - 2
                and start - 1 not in occupied
                and is_capitalised(doc[start - 1])
                and not lex.is_stop_word(doc[start - 1])
                and (
                    lex.is_first_name(doc[start - 1].text)
                    or (end - start == 1 and lex.is_unlisted_name_word(doc[start - 1]))
                )
            ):
                start -= 1
            while (
                end < len(doc)
                and end < entity.end + 2
                and end not in occupied
                and (is_initial(doc[end - 1].text) or lex.is_first_name(doc[end - 1].text))
                and lex.can_end_name(doc[end])
            ):
                end += 1
            end = self.with_genitive_apostrophe(doc, end)
            # "Friederike Auguste Sophie" read as two persons: both would grow into
            # "Auguste", and spaCy refuses overlapping entities; the second stays as it was
            grows_into_another = any(
                i in claimed or (i in occupied and not entity.start <= i < entity.end) for i in range(start, end)
            )
            unchanged = (start, end) == (entity.start, entity.end) or grows_into_another
            span = entity if unchanged else rule_span(doc, start, end, "PER", "model+rule")
            claimed.update(range(span.start, span.end))
            repaired.append(span)
        return repaired

    def with_genitive_apostrophe(self, doc: Doc, end: int) -> int:
        """ "Kuntz’ Forderung": the apostrophe of a genitive belongs to the name."""
        if (
            end < len(doc)
            and doc[end].text in APOSTROPHES
            and not doc[end - 1].whitespace_
            and doc[end - 1].text.endswith(APOSTROPHE_GENITIVE_ENDINGS)
            and (doc[end].whitespace_ or end + 1 == len(doc))
        ):
            return end + 1
        return end

    def inverted_names(self, doc: Doc, taken: set[int]) -> list[Span]:
        """ "Brehmer, Jonas" on a line of its own (contact blocks): one person."""
        lex = self.lex
        found = []
        for i in range(len(doc) - 2):
            surname, comma, given = doc[i], doc[i + 1], doc[i + 2]
            if comma.text != "," or not lex.is_first_name(given.text) or not is_capitalised(given):
                continue
            line_start = (
                i == 0 or "\n" in doc[i - 1].text or "\n" in doc[i - 1].whitespace_ or doc[i - 1].text in {"|", ":"}
            )
            after = doc[i + 3] if i + 3 < len(doc) else None
            line_end = (
                after is None
                or "\n" in given.whitespace_
                or "\n" in after.text
                or after.text in {"|", "(", ",", "–", "-"}
            )
            if (
                line_start
                and line_end
                and lex.is_name_like(surname)
                and not lex.is_common_noun(surname.text)
                and not lex.is_place(surname.text)
            ):
                found.append(rule_span(doc, i, i + 3, "PER"))
        return found

    def after_given_name(self, doc: Doc, taken: set[int]) -> list[Span]:
        """A known given name, optional middle initials or further given names, then
        one surname (which may be a common noun: "Weiß", "Vogt")."""
        lex = self.lex
        found = []
        for i, token in enumerate(doc[:-1]):
            if not lex.is_first_name(token.text) or i in taken or lex.is_stop_word(token) or len(token.text) < 3:
                continue
            following = doc[i + 1].text
            if lex.is_common_noun(token.text) and lex.is_common_noun(following) and not lex.is_last_name(following):
                continue  # "Hagen" the noun or place before another noun, not a given name
            if i > 0 and lex.is_first_name(doc[i - 1].text) and is_capitalised(doc[i - 1]):
                continue  # the name started one token earlier
            k = i + 1
            while (
                k < len(doc)
                and k - i < 3
                and (
                    is_initial(doc[k].text)
                    or lex.is_first_name(doc[k].text)
                    and k + 1 < len(doc)
                    and is_capitalised(doc[k + 1])
                )
            ):
                k += 1
            if (
                k < len(doc)
                and is_capitalised(doc[k])
                and not doc[k].is_punct
                and not lex.is_stop_word(doc[k])
                and not (lex.is_title_or_role(doc[k]) or lex.is_org_word(doc[k].text) or lex.is_venue_word(doc[k].text))
            ):
                k += 1
            if k - i < 2 or lex.is_org_word(doc[k - 1].text) or any(t in taken for t in range(i, k)):
                continue
            if is_initial(doc[k - 1].text):
                continue
            found.append(rule_span(doc, i, k, "PER"))
        return found

    def after_title_or_role(self, doc: Doc, taken: set[int]) -> list[Span]:
        """ "Stadtrat Jonas Brehmer", "Dr. Vogt", "Frau Weber"."""
        lex = self.lex
        found = []
        i = 0
        while i < len(doc):
            if not lex.is_title_or_role(doc[i]):
                i += 1
                continue
            j = i + 1
            while j < len(doc) and (
                lex.is_title(doc[j]) or (lex.is_role(doc[j]) and doc[j].text not in ROLE_ONLY_BEFORE_NAME)
            ):
                j += 1
            k = j
            while k < len(doc) and k - j < 4 and lex.is_name_like(doc[k]):
                k += 1
            if k - j >= 1 and not any(t in taken for t in range(j, k)):
                # one word alone only after a title ("Frau Müller", "Dr. Vogt"), or when it is a known surname
                if k - j >= 2 or lex.is_title(doc[j - 1]) or lex.is_last_name(doc[j].text):
                    found.append(rule_span(doc, j, k, "PER"))
            i = max(k, i + 1)
        return found

    def before_role(self, doc: Doc, taken: set[int]) -> list[Span]:
        """Apposition: "Lena Vogt, Abteilungsleiterin …" — names before ", <role>"."""
        lex = self.lex
        found = []
        for r in range(2, len(doc)):
            if doc[r - 1].text != "," or not lex.is_role(doc[r]) or (r - 2) in taken:
                continue
            start = r - 1
            while (
                start > 0
                and r - 1 - start < 4
                and lex.is_name_like(doc[start - 1])
                and not doc[start - 1].is_sent_start
            ):
                start -= 1
            if r - 1 - start >= 2 and not any(t in taken for t in range(start, r - 1)):
                found.append(rule_span(doc, start, r - 1, "PER"))
        return found


@Language.factory(
    "presseabgleich_persons",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.ents", "doc.spans"],
)
def make_person_finder(nlp: Language, name: str, max_place_words: int) -> PersonFinder:
    return PersonFinder(get_lexicon(max_place_words))
