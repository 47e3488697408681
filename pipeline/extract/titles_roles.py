"""Component `presseabgleich_titles_roles`: the academic titles and role words
around each person, recorded on the person (Span._.titles, Span._.roles); the
person's surface stays the name alone (the persons component cut them off).

- before the name: "Oberbürgermeisterin Dr. Katja Wellmann" → titles ("Dr.",),
  roles ("Oberbürgermeisterin",); "Bürgermeister und Kämmerer X" is one role;
- apposition after it: "Peter K. Brandt, Sprecher der Arbeitsgemeinschaft und
  Kämmerer in Unna, sagte …" → that whole phrase is a role.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.extract.lexicon import Lexicon, get_lexicon

MAX_APPOSITION_TOKENS = 16
APPOSITION_ENDS = frozenset({",", ".", ":", ";", "(", "“", "„"})


class TitlesAndRoles:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon

    def __call__(self, doc: Doc) -> Doc:
        for entity in doc.ents:
            if entity.label_ == "PER":
                self.attach(doc, entity)
        return doc

    def attach(self, doc: Doc, entity: Span) -> None:
        lex = self.lex
        titles: list[str] = []
        role_words: list[str] = []
        k = entity.start - 1
        while k >= 0 and (lex.is_title_or_role(doc[k]) or doc[k].text == "und" and k > 0 and lex.is_role(doc[k - 1])):
            if lex.is_title(doc[k]):
                titles.insert(0, doc[k].text)
            elif doc[k].text != "und":
                role_words.insert(0, doc[k].text)
            k -= 1
        roles = [" und ".join(role_words)] if role_words else []
        if entity.end + 1 < len(doc) and doc[entity.end].text == "," and lex.is_role(doc[entity.end + 1]):
            first = entity.end + 1
            stop = first + 1
            while (
                stop < len(doc)
                and stop - first < MAX_APPOSITION_TOKENS
                and doc[stop].text not in APPOSITION_ENDS
                and not doc[stop].is_sent_start
            ):
                stop += 1
            roles.append(doc[first:stop].text)
        entity._.titles = tuple(titles)
        entity._.roles = tuple(roles)


@Language.factory(
    "presseabgleich_titles_roles",
    requires=["doc.ents"],
    assigns=["span._.titles", "span._.roles"],
)
def make_titles_and_roles(nlp: Language, name: str) -> TitlesAndRoles:
    return TitlesAndRoles(get_lexicon())
