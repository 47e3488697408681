"""Component `presseabgleich_organisations`: organisation names the model
missed or cut into pieces, as proposals in doc.spans["rule_candidates"].

- "Stadt Hagen", "Kreis Unna": a public body named by its place;
- "der Integrationsrat", "des Jobcenters": after a definite article, a body every
  city has one of, named by its kind (wordlists/bodies_by_kind.txt), also with a
  one-letter slip in a long word ("der Integartionsrat");
- names ending in a legal form: "Salam e.V.", "Muster Bau GmbH";
- quoted names after an organisation word: Städtekooperation „Ruhr.Vernetzt“;
- long names built on an organisation head word ("Ministerium für Kinder, …,
  und Integration des Landes NRW", "Kommunales Integrationszentrum",
  "Universität Duisburg-Essen"); built on a venue word ("Kongresszentrum
  Westfalenhallen") they are places.
"""

from __future__ import annotations

import functools

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from pipeline.extract.lexicon import (
    ARTICLES,
    ORG_CONNECTORS,
    QUOTES_CLOSE,
    QUOTES_OPEN,
    WORD_CACHE_SIZE,
    Lexicon,
    get_lexicon,
    is_capitalised,
)
from pipeline.extract.spans import add_candidates, contact_tokens, rule_span

# Endings of inflected adjectives, which may precede an organisation's head word
# ("Kommunalen Integrationszentrums", "Evangelische Kirche").
ADJECTIVE_ENDINGS = ("e", "en", "er", "es", "em")
DEFINITE_ARTICLES = frozenset({"der", "die", "das", "des", "dem", "den"})
MAX_LEGAL_NAME_WORDS = 5
MAX_QUOTED_NAME_TOKENS = 12


class OrganisationFinder:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lex = lexicon
        self.may_start_proposal = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(self._may_start_proposal)

    def __call__(self, doc: Doc) -> Doc:
        found: list[Span] = []
        after_article = False
        for token in doc:
            if after_article or self.may_start_proposal(token.text):
                found.extend(self.proposals_at(doc, token))
            after_article = token.lower_ in DEFINITE_ARTICLES
        # A legal name ("Kulturbrücke Witten e.V.") beats a descriptor-led phrase that
        # overlaps it ("Verein Kulturbrücke Witten").
        legal = [s for s in found if self.lex.is_legal_form(s[-1].text)]
        found = [
            s
            for s in found
            if s in legal
            or not any(n.start < s.end and s.start < n.end and not n.start <= s.start <= s.end <= n.end for n in legal)
        ]
        blocked = contact_tokens(doc)
        add_candidates(doc, [s for s in found if not any(i in blocked for i in range(s.start, s.end))])
        return doc

    def _may_start_proposal(self, text: str) -> bool:
        """Whether proposals_at can propose anything at a word that follows no definite
        article: each of its rules first tests the word alone, and most words pass none."""
        lex = self.lex
        return (
            lex.is_body_prefix(text)
            or lex.is_legal_form(text)
            or text in QUOTES_OPEN
            or lex.is_department_head(text)
            or (text[:1].isupper() and (lex.is_named_venue(text) or lex.is_org_word(text) or lex.is_venue_word(text)))
        )

    def proposals_at(self, doc: Doc, token: Token) -> list[Span]:
        lex = self.lex
        i, text = token.i, token.text
        found = []
        if lex.is_body_prefix(text) and i + 1 < len(doc):
            end = lex.longest_place_at(doc, i + 1)
            if end is not None:
                found.append(rule_span(doc, i, end, "ORG"))
        if lex.is_legal_form(text) and i > 0 and is_capitalised(doc[i - 1]):
            start = self.legal_name_start(doc, i)
            if start < i:
                found.append(rule_span(doc, start, i + 1, "ORG"))
        if text in QUOTES_OPEN and i > 0 and lex.is_org_word(doc[i - 1].text):
            close = next(
                (k for k in range(i + 1, min(i + MAX_QUOTED_NAME_TOKENS, len(doc))) if doc[k].text in QUOTES_CLOSE),
                None,
            )
            if close is not None and close > i + 1 and is_capitalised(doc[i + 1]):
                found.append(rule_span(doc, i + 1, close, "ORG"))
        if (
            lex.is_department_head(text)
            and not (i > 1 and doc[i - 2].lower_ == "für")  # "zuständig für den Fachbereich X": a remit
            and i + 1 < len(doc)
            and is_capitalised(doc[i + 1])
        ):
            field = doc[i + 1]
            if not field.is_punct and not lex.is_stop_word(field) and not lex.is_title_or_role(field):
                found.append(rule_span(doc, i, i + 2, "ORG"))  # "Fachbereich Jugend"
        if i > 0 and doc[i - 1].lower_ in DEFINITE_ARTICLES and lex.body_by_kind(text) and not lex.is_role(token):
            found.append(rule_span(doc, i, i + 1, "ORG"))  # "der Integrationsrat", "des Jobcenters"
        if lex.is_named_venue(text) and is_capitalised(token):
            found.append(rule_span(doc, i, i + 1, "LOC"))  # "Fritz-Henßler-Haus"
        if (
            (lex.is_org_word(text) or lex.is_venue_word(text))
            and is_capitalised(token)
            and not lex.is_legal_form(text)
            and not lex.is_role(token)
        ):
            span = self.head_phrase(doc, i)
            if span is not None:
                found.append(span)
        return found

    def legal_name_start(self, doc: Doc, legal: int) -> int:
        """Start of a name ending in the legal form at `legal`: proper names before it,
        and a specific organisation word with its adjectives ("Deutsch-Polnischer
        Kulturverein Hagen e.V."), but not a generic descriptor ("Verein Kulturbrücke e.V.")."""
        lex = self.lex
        start = legal
        while start > 0 and legal - start < MAX_LEGAL_NAME_WORDS and is_capitalised(doc[start - 1]):
            word = doc[start - 1].text
            if lex.is_org_word(word):
                if lex.is_generic_org_noun(word) or not lex.is_association_word(word) or doc[start - 1].is_sent_start:
                    break
                start -= 1
                while start > 0 and self._is_left_modifier(doc[start - 1]):
                    start -= 1
                break
            if (lex.is_common_noun(word) and start < legal) or lex.is_place_adjective(word):
                break
            start -= 1
        return start

    def _continues_after_connector(self, doc: Doc, connector: int, j: int) -> bool:
        """Connectors only continue a name when a capitalised name word follows them, and
        never into a person ("Vorsitzende des Seniorenbeirates, Giulia Bianchi")."""
        lex = self.lex
        word = doc[j]
        return (
            is_capitalised(word)
            and not word.is_punct
            and word.ent_type_ != "PER"
            and not (doc[connector].text == "," and self._person_starts_at(doc, j))
            and not lex.is_title_or_role(word)
            and not lex.is_body_prefix(word.text)
            and not (doc[connector].text == "," and lex.is_place(word.text))  # "…-Stiftung, München"
            and not (  # "… und der Universität X" starts a new name; "für Schule" does not
                lex.is_org_word(word.text) and doc[connector].text in {"und", ","} and doc[j - 1].lower_ in ARTICLES
            )
        )

    def _person_starts_at(self, doc: Doc, j: int) -> bool:
        """A given name and a capitalised word: a person in apposition."""
        lex = self.lex
        return (
            j + 1 < len(doc)
            and lex.is_first_name(doc[j].text)
            and not lex.is_common_noun(doc[j].text)
            and is_capitalised(doc[j + 1])
            and not lex.is_org_word(doc[j + 1].text)
        )

    def _ends_name(self, doc: Doc, k: int) -> bool:
        """A common noun after a place or proper name ends an organisation name."""
        lex = self.lex
        previous, word = doc[k - 1].text, doc[k].text
        proper = lex.is_place(previous) or not (lex.is_common_noun(previous) or lex.is_org_word(previous))
        noun = (lex.is_common_noun(word) or lex.is_common_compound(word)) and not lex.is_org_word(word)
        return proper and noun and not lex.is_place(word)

    def _is_name_word(self, doc: Doc, k: int) -> bool:
        lex = self.lex
        token = doc[k]
        return (
            is_capitalised(token)
            and not token.is_punct
            and not lex.is_title_or_role(token)
            and not token.is_sent_start
            and not lex.is_body_prefix(token.text)
            and not lex.is_stop_word(token)
        )

    def _is_left_modifier(self, token) -> bool:
        """To the left of a head only adjectives ("Kommunalen", "Evangelische") and
        proper names ("Fraunhofer"), never a plain common noun ("Gründer Feuerwehr …")."""
        lex = self.lex
        text = token.text
        return (
            is_capitalised(token)
            and not token.is_sent_start
            and not token.is_punct
            and not lex.is_title_or_role(token)
            and not lex.is_municipality(text)
            and not lex.is_place_adjective(text)
            and not lex.is_org_word(text)
            and not lex.is_stop_word(token)
            and (not lex.is_common_noun(text) or text.endswith(ADJECTIVE_ENDINGS))
        )

    def head_phrase(self, doc: Doc, head: int) -> Span | None:
        """Head word plus its name: "Ministerium für Kinder, …, und Integration des Landes NRW",
        "Universität Duisburg-Essen", "Fraunhofer Institut für Materialfluss und Logistik"."""
        lex = self.lex
        end = head + 1
        k = head + 1
        named = False
        qualified = False  # "… der Stadt Hagen", "… des Kreises Unna" follows
        while k < len(doc):
            if doc[k].text in ORG_CONNECTORS:
                j = k
                while j < len(doc) and doc[j].text in ORG_CONNECTORS:
                    j += 1
                if j < len(doc) and self._continues_after_connector(doc, k, j):
                    k = j
                    continue
                qualified = (
                    k == end and doc[k].lower_ in {"der", "des"} and j < len(doc) and lex.is_body_prefix(doc[j].text)
                )
                break
            if k == end and lex.is_body_prefix(doc[k].text):
                # a directly appended body is part of the name: "Jobcenter Kreis Recklinghausen"
                place_end = lex.longest_place_at(doc, k + 1)
                if place_end is None:
                    break
                k = end = place_end
                named = True
                continue
            if self._is_name_word(doc, k):
                if k > head + 1 and doc[k - 1].text not in ORG_CONNECTORS and self._ends_name(doc, k):
                    break  # "im Kulturzentrum Bottrop Lieder …": a noun after the name is the sentence's
                k += 1
                end = k
                named = True
                continue
            break
        start = head
        while start > 0 and self._is_left_modifier(doc[start - 1]):
            start -= 1
        head_text = doc[head].text
        label = "LOC" if lex.is_venue_word(head_text) else "ORG"
        if not named:
            # A bare head names a body when it is qualified by one ("Seniorenrat der
            # Stadt Bottrop"), is a hyphenated name ("Folkwang-Universität") or has modifiers.
            specific = not lex.is_generic_org_noun(head_text) and not lex.is_generic_venue_noun(head_text)
            if start == head and not (specific and (qualified or "-" in head_text.strip("-"))):
                return None
            return rule_span(doc, start, head + 1, label)
        if lex.is_generic_venue_noun(head_text) and start == head and doc[head + 1].lower_ in {"der", "des"}:
            return None  # "Saal des Bahnhofs X": the building is the place
        if start == head and doc[head + 1].lower_ in {"der", "des"} and lex.longest_place_at(doc, head + 2) == end:
            return None  # "Bank der Schweiz": a generic noun and a place, not a name
        # A bare head with a generic noun after it ("Stadt Herne" is handled above) is not a name
        # unless a connector or a place/proper noun follows it.
        if doc[head + 1].text in {"und", ",", "oder"} and all(
            lex.is_common_noun(t.text)
            or lex.is_org_word(t.text)
            or lex.is_common_compound(t.text)
            or t.text in ORG_CONNECTORS
            for t in doc[head + 1 : end]
        ):
            return None  # "Verwaltung und Migrantenorganisationen": generic nouns listed
        next_token = doc[head + 1]
        if (
            next_token.text not in ORG_CONNECTORS
            and not lex.is_body_prefix(next_token.text)
            and lex.is_common_noun(next_token.text)
            and not lex.is_place(next_token.text)
        ):
            return None
        return rule_span(doc, start, end, label)


@Language.factory(
    "presseabgleich_organisations",
    default_config={"max_place_words": 5},
    requires=["doc.ents"],
    assigns=["doc.spans"],
)
def make_organisation_finder(nlp: Language, name: str, max_place_words: int) -> OrganisationFinder:
    return OrganisationFinder(get_lexicon(max_place_words))
