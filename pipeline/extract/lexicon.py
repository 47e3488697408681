"""The one word-class lexicon every rule component asks: is this word a title, a
role, an organisation head, a place, a given name …?

Built on the gazetteers (pipeline/gazetteers.py: GeoNames, CLDR, Faker,
Wiktionary and the hand-kept lists in pipeline/resources/) plus the small lists
in pipeline/extract/wordlists/. Those lists hold general German press-text
vocabulary only (greetings, legal forms, municipal bodies), never names taken
from sample or gold texts.

The rules ask about the same few thousand words again and again; the compound
analysis and suffix tests are remembered per word (bounded, for huge archives).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
import unicodedata
from importlib import resources
from pathlib import Path

from spacy.lang.de.stop_words import STOP_WORDS
from spacy.tokens import Doc, Token

from pipeline.gazetteers import Gazetteers, load_gazetteers
from pipeline.normalize import CODEPAGE_DAMAGE, PLAIN_FOLD, one_slip_from

WORD_CACHE_SIZE = 200_000  # distinct words remembered per word class
INITIAL = re.compile(r"[A-ZÄÖÜ]\.")
# Role words not in roles.txt are recognised by their ending ("Referatsleiterin"),
# but only long capitalised words: "Leiter" alone is also a ladder.
ROLE_SUFFIXES = (
    "leiter",
    "leiterin",
    "sprecher",
    "sprecherin",
    "direktor",
    "direktorin",
    "beauftragter",
    "beauftragte",
    "beauftragten",
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
    "vorsitzenden",
    "dezernent",
    "dezernentin",
    "koordinator",
    "koordinatorin",
    "berater",
    "beraterin",
    "mitarbeiter",
    "mitarbeiterin",
)
# Prepositions after which an ambiguous word ("Essen") is read as a place; not the
# contracted forms with an article ("im Feld"), which introduce common nouns.
PLACE_PREPOSITIONS = frozenset({"in", "aus", "nach", "bei", "von", "bis", "ab", "gen", "über"})
# Words after which a gazetteer name inside an organisation name is a place: "des Landes NRW".
PLACE_CUES = frozenset({"Landes", "Stadt", "Kreises", "Kreis", "Bezirks", "Gemeinde", "in", "aus"})
# Words joining the parts of a long organisation name.
ORG_CONNECTORS = frozenset({"für", "des", "der", "und", "zur", "zum", ",", "-", "–", "&"})
LIST_JOINERS = frozenset({",", "und", "oder", "sowie"})
ARTICLES = frozenset({"der", "die", "das", "des", "dem", "den", "ein", "eine", "einer", "eines", "einem", "einen"})
QUOTES_OPEN = frozenset({"„", "“", '"', "»", "«", "‚", "'"})
QUOTES_CLOSE = frozenset({"“", "”", '"', "«", "»", "‘", "'"})
DIRECTIONS = ("Nord", "Süd", "Ost", "West")
DISTRICT_HEADS = ("stadt", "viertel", "end")
APOSTROPHES = frozenset({"'", "’"})
# German writes the genitive of names ending in an s sound with an apostrophe alone.
APOSTROPHE_GENITIVE_ENDINGS = ("s", "z", "x", "ß", "ce")
# Characters that never stand inside a person's name.
PERSON_BREAKS = frozenset({"/", "|", "(", ")", "[", "]", "·", "•"})


def _wordlist(name: str) -> frozenset[str]:
    text = resources.files("pipeline.extract").joinpath("wordlists", name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def genitive_stems(word: str) -> tuple[str, ...]:
    """The word and the stems it may be a genitive of ("Rates" → Rat, "Zentrums" → Zentrum)."""
    stems = [word]
    if len(word) > 5 and word.endswith("es"):
        stems.append(word[:-2])
    if len(word) > 4 and word.endswith("s"):
        stems.append(word[:-1])
    return tuple(stems)


def is_capitalised(token: Token) -> bool:
    return token.text[:1].isupper()


def is_initial(text: str) -> bool:
    return INITIAL.fullmatch(text) is not None


class Lexicon:
    """Word classes over the gazetteers; one instance per process (see get_lexicon)."""

    def __init__(self, gazetteers: Gazetteers, max_place_words: int = 5) -> None:
        self.gaz = gazetteers
        self.max_place_words = max_place_words
        self.greetings = _wordlist("greetings.txt")
        self.legal_forms = _wordlist("legal_forms.txt")
        self.body_prefixes = _wordlist("body_prefixes.txt")
        self.generic_org_nouns = _wordlist("generic_org_nouns.txt")
        self.org_heads = _wordlist("org_heads.txt")
        self.department_heads = _wordlist("department_heads.txt")
        self.bodies_by_kind = _wordlist("bodies_by_kind.txt")
        self.venue_heads = _wordlist("venue_heads.txt")
        self.generic_venue_nouns = _wordlist("generic_venue_nouns.txt")
        self.not_names = _wordlist("not_names.txt")
        self.first_names = gazetteers.first_names | frozenset(
            n
            for n in world_given_names()
            if n.lower() not in STOP_WORDS and n not in gazetteers.common_nouns and n not in gazetteers.places
        )
        self.folded_first_names = frozenset(fold_marks(n) for n in self.first_names if not n.isascii())
        self._association_suffixes = tuple(h.lower() for h in _wordlist("association_heads.txt"))
        self._org_head_suffixes = tuple(h.lower() for h in self.org_heads)
        self._venue_head_suffixes = tuple("-" + h.lower() for h in self.venue_heads)
        # "NRW": place abbreviations of resources/abbreviations.csv are places too
        self.place_abbreviations = frozenset(a for a, (_, kind) in gazetteers.abbreviations.items() if kind == "LOC")
        self.title_words = {t.rstrip(".") for t in gazetteers.titles} | set(gazetteers.titles)
        # first token of every place name ("Mülheim" of "Mülheim an der Ruhr", "Nordrhein" of
        # "Nordrhein-Westfalen"): lets longest_place_at skip all other tokens at once
        self.place_starts = (
            frozenset(part for name in gazetteers.places for part in {name.split()[0], name.split()[0].split("-")[0]})
            | self.place_abbreviations
        )
        cached = functools.lru_cache(maxsize=WORD_CACHE_SIZE)
        self.is_org_word = cached(self._org_word)
        self.is_venue_word = cached(self._venue_word)
        self.is_title_text = cached(self._title_text)
        self.is_role_text = cached(self._role_text)
        self.is_common_compound = cached(self._common_compound)
        self.is_named_venue = cached(self._named_venue)

    # --- titles, roles, greetings ----------------------------------------------

    def _title_text(self, text: str) -> bool:
        return text in self.gaz.titles or (text.endswith(".") and text.rstrip(".") in self.title_words)

    def _role_text(self, text: str) -> bool:
        """A role or office word, in any case form of roles.txt or by its ending."""
        if text in self.gaz.roles or (text.endswith("s") and text[:-1] in self.gaz.roles):
            return True
        if text.endswith("n") and text[:-1] in self.gaz.roles:  # "der Beigeordneten", "des Vorsitzenden"
            return True
        return text[:1].isupper() and len(text) > 8 and text.lower().endswith(ROLE_SUFFIXES)

    def is_title(self, token: Token) -> bool:
        return self.is_title_text(token.text)

    def is_role(self, token: Token) -> bool:
        return self.is_role_text(token.text)

    def is_greeting(self, token: Token) -> bool:
        return token.lower_ in self.greetings

    def is_title_or_role(self, token: Token) -> bool:
        return self.is_title_text(token.text) or self.is_role_text(token.text)

    # --- organisations ------------------------------------------------------------

    def _org_word(self, text: str) -> bool:
        """An organisation head word or compound of one, also in the genitive
        ("Integrationszentrums", "Integrationsrates")."""
        return text in self.legal_forms or any(self._org_stem(stem) for stem in genitive_stems(text))

    def _org_stem(self, text: str) -> bool:
        if self.gaz.is_org_word(text) or text in self.org_heads:
            return True
        lower = text.lower()
        return text[:1].isupper() and any(
            lower.endswith(head) and self._is_compound_prefix(text[: -len(head)], len(head))
            for head in self._org_head_suffixes
        )

    def _is_compound_prefix(self, prefix: str, head_length: int) -> bool:
        """What precedes a head word in a compound: three letters for long heads; for
        short ones ("Rat") a noun or a linking s ("Integrationsrat", "Elternrat"),
        so that "Ararat" or "Apparat" are no compounds of "Rat"."""
        if head_length >= 5:
            return len(prefix) >= 3
        return len(prefix) >= 4 and (prefix.endswith("s") or self.is_common_noun(prefix.capitalize()))

    def _venue_word(self, text: str) -> bool:
        """A venue head or compound of one ("Stadthalle"), also in the genitive
        ("Bahnhofs"), or a hyphenated name ending in a venue head ("Fritz-Henßler-Haus")."""
        return any(
            self.gaz.is_venue_word(stem) or stem in self.venue_heads or self._venue_compound(stem)
            for stem in genitive_stems(text)
        )

    def _venue_compound(self, text: str) -> bool:
        """ "Technologiepark", "Fritz-Henßler-Haus": a compound ending in a venue head, but
        not an organisation word ("Krankenhaus") or a listed common noun ("Elternhaus")."""
        if not text[:1].isupper() or len(text) < 7:
            return False
        lower = text.lower()
        if not any(lower.endswith(head.lower()) and len(text) - len(head) >= 3 for head in self.venue_heads):
            return False
        return "-" in text or not self.gaz.is_org_word(text)

    def _named_venue(self, text: str) -> bool:
        """A venue name that is a place on its own: hyphenated ("Fritz-Henßler-Hauses")
        or a venue head after a name ("Westfalenhalle": a place; "Maximilianpark": a given name)."""
        if not text[:1].isupper():
            return False
        for stem in genitive_stems(text):
            if "-" in stem and stem.lower().endswith(self._venue_head_suffixes):
                return True
            lower = stem.lower()
            for head in self.venue_heads:
                prefix = stem[: -len(head)]
                if lower.endswith(head.lower()) and len(prefix) >= 4 and "-" not in prefix:
                    if self.is_place(prefix) or self.is_first_name(prefix) or self.is_last_name(prefix):
                        return True
        return False

    def is_district_name(self, text: str) -> bool:
        """ "Südstadt", "Westviertel": districts named by their direction."""
        return text.startswith(DIRECTIONS) and text.endswith(DISTRICT_HEADS) and len(text) > 7

    def is_association_word(self, text: str) -> bool:
        """ "Frauenverein", "Bildungsvereins": an association head, part of its name."""
        return any(stem.lower().endswith(self._association_suffixes) for stem in genitive_stems(text))

    def body_by_kind(self, text: str) -> str | None:
        """The body a word names by its kind ("Integrationsrates" → Integrationsrat),
        also misspelt by one letter in a long word ("Integartionsrat", "Volkshochshule")
        that is no other known noun."""
        for stem in genitive_stems(text):
            if stem in self.bodies_by_kind:
                return stem
        if self.is_common_noun(text):
            return None
        return next((b for stem in genitive_stems(text) if (b := one_slip_from(stem, self.bodies_by_kind))), None)

    def is_department_head(self, text: str) -> bool:
        """ "Fachbereich" of "Fachbereich Jugend": a named department with its field after it."""
        return text in self.department_heads

    def is_generic_venue_noun(self, text: str) -> bool:
        return text in self.generic_venue_nouns

    def is_not_name(self, text: str) -> bool:
        """Months, weekdays, language names: never an entity alone."""
        return text in self.not_names

    def is_legal_form(self, text: str) -> bool:
        return text in self.legal_forms

    def is_body_prefix(self, text: str) -> bool:
        """Words naming a public body by its place: "Stadt Hagen", "Kreis Unna"."""
        return text in self.body_prefixes

    def is_generic_org_noun(self, text: str) -> bool:
        """Organisation nouns that alone name no particular body ("die Verwaltung")."""
        return text in self.generic_org_nouns

    # --- places -----------------------------------------------------------------

    def is_place(self, text: str) -> bool:
        return text in self.gaz.german_municipalities or text in self.gaz.places or text in self.place_abbreviations

    def is_municipality(self, text: str) -> bool:
        return text in self.gaz.german_municipalities

    def is_place_adjective(self, text: str) -> bool:
        """ "Hagener", "Kölner"; also "-hausen" → "-häuser" ("Mühlhäuser")."""
        if self.gaz.is_place_adjective(text):
            return True
        return text.endswith("häuser") and len(text) > 8 and self.is_place(text[:-6] + "hausen")

    def is_ambiguous_place(self, text: str) -> bool:
        """A place name that is also a noun or a person's name ("Essen", "Herford")."""
        return text in self.gaz.common_nouns or text in self.gaz.first_names or text in self.gaz.last_names

    def longest_place_at(self, doc: Doc, start: int) -> int | None:
        """End index of the longest gazetteer place starting at token `start`."""
        if start >= len(doc) or doc[start].text not in self.place_starts:
            return None
        best = None
        for length in range(1, self.max_place_words + 1):
            end = start + length
            if end > len(doc):
                break
            if self.is_place(doc[start:end].text) and doc[end - 1].text[:1].isupper():
                best = end
        return best

    # --- persons and nouns --------------------------------------------------------

    def is_first_name(self, text: str) -> bool:
        """Known given name, also after repairing code-page damage ("Aylý" → "Aylı") and
        written without its diacritics ("Seyma" for "Şeyma")."""
        names = self.first_names
        return (
            text in names
            or text.translate(CODEPAGE_DAMAGE) in names
            or (text.isascii() and text in self.folded_first_names)
        )

    def is_last_name(self, text: str) -> bool:
        return text in self.gaz.last_names

    def is_common_noun(self, text: str) -> bool:
        return text in self.gaz.common_nouns

    def is_stop_word(self, token: Token) -> bool:
        return token.lower_ in STOP_WORDS

    def _common_compound(self, text: str) -> bool:
        """An unlisted compound of a common noun ("Begrüßungsrede" → Rede), not a name."""
        if len(text) < 8 or not text.isalpha() or self.is_place(text) or text in self.gaz.last_names:
            return False
        return any(text[cut:].capitalize() in self.gaz.common_nouns for cut in range(3, len(text) - 3))

    def is_name_like(self, token: Token) -> bool:
        """A capitalised token that can be part of a person's name."""
        text = token.text
        if not text[:1].isupper() or token.is_punct:
            return False
        if is_initial(text):
            return True  # middle initial
        if self.is_title(token) or self.is_role(token) or self.is_org_word(text):
            return False
        if text in self.gaz.first_names or text in self.gaz.last_names:
            return True
        return text not in self.gaz.common_nouns and text.isalpha() or "-" in text

    def is_unlisted_name_word(self, token: Token) -> bool:
        """A capitalised word no gazetteer knows as anything but a name: not a noun,
        place, organisation or venue word, title or role ("Iryna", "Kovalenko")."""
        text = token.text
        return (
            text[:1].isupper()
            and not text.endswith("-")
            and text.replace("-", "").isalpha()
            and not text.isupper()
            and not token.is_stop
            and not self.is_common_noun(text)
            and not self.is_common_compound(text)
            and not self.is_place(text)
            and not self.is_place_adjective(text)
            and not self.is_org_word(text)
            and not self.is_venue_word(text)
            and not self.is_title_or_role(token)
            and not self.is_not_name(text)
        )

    def can_end_name(self, token: Token) -> bool:
        """A capitalised word that can stand as (part of) a surname, common noun or not ("Weiß")."""
        return (
            is_capitalised(token)
            and not token.is_punct
            and "\n" not in token.text
            and token.lower_ not in STOP_WORDS
            and not (self.is_title(token) or self.is_role(token) or self.is_org_word(token.text))
        )


@functools.cache
def fold_marks(name: str) -> str:
    """The name as written without diacritics, case kept: "Şeyma" → "Seyma"."""
    return unicodedata.normalize("NFKD", name.translate(PLAIN_FOLD)).encode("ascii", "ignore").decode()


def world_given_names_version() -> str:
    return importlib.metadata.version("gender-guesser")


@functools.cache
def world_given_names() -> frozenset[str]:
    """Given names of many countries (Turkish, Arabic, Balkan, … names are common in
    German municipal texts, and Faker's lists miss many: "Şeyma"), from the name
    dictionary of the `gender-guesser` package (Jörg Michael's nam_dict.txt, GNU FDL;
    only the data file is read). The lexicon leaves out names that are also German
    nouns, places or stop words: "Rose", "Hagen" stay what the other lists say."""
    spec = importlib.util.find_spec("gender_guesser")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("gender-guesser is missing: run `make requirements`")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "nam_dict.txt"
    names: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 2 or line[0] in "#=":
                continue
            for replacement in ("", "-") if "+" in parts[1] else ("",):
                names.add(parts[1].replace("+", replacement))
    return frozenset(n for n in names if n[:1].isupper())


def get_lexicon(max_place_words: int = 5) -> Lexicon:
    """The process's lexicon for this setting (get_lexicon() and get_lexicon(5) are one)."""
    return _lexicon(max_place_words)


@functools.cache
def _lexicon(max_place_words: int) -> Lexicon:
    return Lexicon(load_gazetteers(), max_place_words=max_place_words)
