"""Per-mention normalisation: names → comparable forms and keys (pure functions).

- Encoding damage is repaired first: UTF-8 read as Latin-1 ("MÃ¼lheim", via
  ftfy) and the Turkish code page read as Western (ý→ı, þ→ş, ð→ğ, Ý→İ, Þ→Ş,
  Ð→Ğ; ftfy does not cover this one).
- Two ASCII foldings are compared: DIN 5007-2 (ü→ue, ß→ss: matches e-mail
  spellings) and plain (ü→u, ı→i, ç→c: matches "Asli" to "Aslı").
- Persons: titles, honorifics and role words go to their own fields, middle
  initials stay, "Nachname, Vorname" is turned round.
- Places: genitive ("Hernes"), adjective ("Hagener") and abbreviations ("NRW").
- Organisations: leading articles, quotes and legal-form spellings; inflected
  adjectives ("vom Kommunalen Integrationszentrum") take their nominative form by
  the head noun's gender; abbreviations inside names are expanded in the key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import cologne_phonetics
import ftfy
from rapidfuzz.distance import OSA

from pipeline.gazetteers import Gazetteers, load_gazetteers

MIN_MISSPELT_LENGTH = 10  # in a shorter word a one-letter slip too often makes another word
# what ftfy.fix_encoding uses by default, made once rather than per call
FTFY_CONFIG = ftfy.TextFixerConfig(explain=False)
CODEPAGE_DAMAGE = str.maketrans({"ý": "ı", "Ý": "İ", "þ": "ş", "Þ": "Ş", "ð": "ğ", "Ð": "Ğ"})
DIN_FOLD = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ı": "i", "İ": "I"}
)
PLAIN_FOLD = str.maketrans({"ß": "ss", "ı": "i", "İ": "I", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "æ": "ae"})
HONORIFICS = {"Herr", "Herrn", "Frau", "Hr.", "Fr."}
SURNAME_PARTICLES = {
    "von",
    "van",
    "de",
    "der",
    "den",
    "zu",
    "vom",
    "zum",
    "di",
    "da",
    "del",
    "dos",
    "la",
    "le",
    "ter",
    "ten",
    "al",
    "el",
    "ibn",
    "bin",
    "ben",
    "abu",
    "du",
}
LEADING_WORDS = {"der", "die", "das", "des", "dem", "den", "vom", "von", "im", "am", "zum", "zur", "beim"}
QUOTES = "„“”\"»«‚‘’'"
NO_QUOTES = str.maketrans("", "", QUOTES)
LEGAL_FORM_SPELLINGS = [
    (re.compile(r"\be\.\s*V\.?(?=\s|$)|\beV\b"), "e.V."),
    (re.compile(r"\bg\s*GmbH\b"), "gGmbH"),
    (re.compile(r"\bGmbH\s*&\s*Co\.?\s*KG\b"), "GmbH & Co. KG"),
]
LEGAL_FORMS = {"e.V.", "gGmbH", "GmbH", "GmbH & Co. KG", "AG", "KG", "mbH", "eG", "gUG", "UG"}
ADJECTIVE_ENDINGS = ("en", "em", "er", "es", "e")
NOMINATIVE_ENDING = {"m": "er", "f": "e", "n": "es"}
WORD = re.compile(r"\S+")
DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-"})


def repair_encoding(text: str) -> tuple[str, str]:
    """(repaired text, what was repaired: "", "mojibake" or "codepage").

    Repeated until nothing changes (at most a few rounds), so that repairing a
    repaired text changes nothing: ftfy may read a code-page repair's output
    as mojibake once more.
    """
    if text.isascii():  # no mojibake or code-page damage without a non-ASCII character
        return text, ""
    kind = ""
    current = unicodedata.normalize("NFC", text)
    for _ in range(4):
        fixed = ftfy.fix_encoding_and_explain(current, FTFY_CONFIG)[0]
        if fixed != current:
            kind = kind or "mojibake"
        translated = fixed.translate(CODEPAGE_DAMAGE)
        if translated != fixed:
            kind = "codepage"
        translated = unicodedata.normalize("NFC", translated)
        if translated == current:
            break
        current = translated
    return current, kind


def clean_and_repair(text: str, strip: str = QUOTES) -> tuple[str, str]:
    """Whitespace collapsed, `strip` characters trimmed, encoding repaired; repeated
    until stable so that cleaning a cleaned text changes nothing."""
    kind = ""
    current = text
    for _ in range(4):
        cleaned = collapse(collapse(current).strip(strip))
        repaired, repair_kind = repair_encoding(cleaned)
        kind = repair_kind or kind
        if repaired == current:
            break
        current = repaired
    return current, kind


@lru_cache(maxsize=500_000)
def fold_din(text: str) -> str:
    """DIN 5007-2 folding: ü→ue, ß→ss, other diacritics dropped; lower case."""
    return _strip_marks(text.translate(DIN_FOLD)).lower()


@lru_cache(maxsize=500_000)
def fold_plain(text: str) -> str:
    """Diacritics dropped: ü→u, ı→i, ç→c, ß→ss; lower case."""
    return _strip_marks(text.translate(PLAIN_FOLD)).lower()


def _strip_marks(text: str) -> str:
    if text.isascii():  # nothing to decompose
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def collapse(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=200_000)
def phonetic(word: str) -> str:
    """Kölner Phonetik of one word (after repair), "" for words without letters."""
    codes = cologne_phonetics.encode(word)
    return "-".join(code for _, code in codes if code)


def is_ascii_folding_of(candidate: str, other: str) -> bool:
    """True when `candidate` is `other` with its diacritics folded away ("Asli" of "Aslı")."""
    return (
        candidate != other
        and candidate.isascii()
        and not other.isascii()
        and (fold_plain(other) == candidate.lower() or fold_din(other) == candidate.lower())
    )


class WordMemo:
    """A per-word gazetteer lookup remembered for the gazetteer it was made with: names
    repeat their words ("Stadtwerke", "Integrationszentrum"), so each is looked up once."""

    def __init__(self, lookup: Callable[[str, Gazetteers], Any], max_size: int = 200_000) -> None:
        self.lookup, self.max_size = lookup, max_size
        self.gaz: Gazetteers | None = None
        self.memo: dict[str, Any] = {}

    def __call__(self, word: str, gaz: Gazetteers) -> Any:
        if gaz is not self.gaz:
            self.gaz, self.memo = gaz, {}
        try:
            return self.memo[word]
        except KeyError:
            value = self.lookup(word, gaz)
            if len(self.memo) < self.max_size:
                self.memo[word] = value
            return value


# --- persons -------------------------------------------------------------------


@dataclass(frozen=True)
class PersonName:
    given: tuple[str, ...]
    surname: str
    titles: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    repaired: str = ""

    @property
    def display(self) -> str:
        return " ".join((*self.given, self.surname)).strip()

    @property
    def is_surname_only(self) -> bool:
        return not self.given


def _is_title(word: str, gaz: Gazetteers) -> bool:
    return word in gaz.titles or word in HONORIFICS or (word.endswith(".") and word in {t for t in gaz.titles})


def _is_role(word: str, gaz: Gazetteers) -> bool:
    return word in gaz.roles or (word.endswith("s") and word[:-1] in gaz.roles)


def parse_person(text: str, gaz: Gazetteers | None = None) -> PersonName:
    """Split a person mention into given names, surname, titles and roles.

    Never returns an empty name: if everything looks like a title or role, the
    last word is kept as the surname.
    """
    gaz = gaz or load_gazetteers()
    repaired, repair_kind = clean_and_repair(text, " ,;:" + QUOTES)
    if repaired.count(",") == 1:
        last, first = (part.strip() for part in repaired.split(","))
        if last and first and " " not in last:
            repaired = f"{first} {last}"
    # quotes and punctuation at a word's edges are not part of a name ("'Hans" after a swap)
    words = [w.strip(" ,;:" + QUOTES) for w in WORD.findall(repaired.replace(",", " "))]
    words = [w for w in words if w]
    if not words:
        return PersonName(given=(), surname=collapse(text) or text, repaired=repair_kind)
    titles: list[str] = []
    roles: list[str] = []
    index = 0
    while index < len(words) - 1 and (_is_title(words[index], gaz) or _is_role(words[index], gaz)):
        (titles if _is_title(words[index], gaz) else roles).append(words[index])
        index += 1
    name_words = words[index:]
    surname_start = len(name_words) - 1
    while surname_start > 0 and name_words[surname_start - 1].lower() in SURNAME_PARTICLES:
        surname_start -= 1
    surname = " ".join(name_words[surname_start:])
    given = tuple(name_words[:surname_start])
    return PersonName(given=given, surname=surname, titles=tuple(titles), roles=tuple(roles), repaired=repair_kind)


def person_key(name: PersonName) -> str:
    """Exact-match key: plain-folded full name ("Aslı"/"Aslý"/"Asli" → "asli sevindim")."""
    return fold_plain(name.display)


def initials_compatible(given_a: tuple[str, ...], given_b: tuple[str, ...]) -> bool:
    """Given names agree where both are present; an initial matches any name with that letter."""
    for a, b in zip(given_a, given_b, strict=False):
        fa, fb = fold_plain(a).rstrip("."), fold_plain(b).rstrip(".")
        if len(fa) == 1 or len(fb) == 1:
            if fa[:1] != fb[:1]:
                return False
        elif fa != fb:
            return False
    return True


# --- places --------------------------------------------------------------------


def normalize_place(text: str, gaz: Gazetteers | None = None) -> tuple[str, str]:
    """(base name, rule applied: "", "genitive", "adjective", "abbreviation", "repair")."""
    gaz = gaz or load_gazetteers()
    repaired, repair_kind = clean_and_repair(text)
    rule = "repair" if repair_kind else ""
    if repaired in gaz.abbreviations and gaz.abbreviations[repaired][1] == "LOC":
        return gaz.abbreviations[repaired][0], "abbreviation"
    if repaired in gaz.places:
        return repaired, rule
    if len(repaired) > 3 and repaired.endswith("s") and repaired[:-1] in gaz.places:
        return repaired[:-1], "genitive"
    if len(repaired) > 4 and repaired.endswith("er"):
        for base in (repaired[:-2], repaired[:-1]):
            if base in gaz.places:
                return base, "adjective"
    return repaired, rule


# --- organisations -------------------------------------------------------------


def _nominative_adjectives(words: list[str], gaz: Gazetteers) -> list[str]:
    """Capitalised adjectives before the head noun take their nominative ending
    ("Kommunalen Integrationszentrum" → "Kommunales Integrationszentrum")."""

    def is_head(i: int) -> bool:
        word = words[i]
        if not (word[:1].isupper() and (word in gaz.common_nouns or _is_org_word(word, gaz))):
            return False
        # "Deutschen Bahn": a nominalised adjective before another noun is not the head
        following = words[i + 1] if i + 1 < len(words) else ""
        return not (
            word.endswith(ADJECTIVE_ENDINGS)
            and following[:1].isupper()
            and (following in gaz.common_nouns or following in gaz.org_words)
        )

    head = next((i for i in range(len(words)) if is_head(i)), None)
    if head is None or head == 0:
        return words
    ending = NOMINATIVE_ENDING.get(_genus_of(words[head], gaz))
    if ending is None:
        return words
    result = list(words)
    for i in range(head):
        word = words[i]
        letters = word.replace("-", "").replace("–", "")
        if not word[:1].isupper() or word in gaz.places or not letters.isalpha() or gaz.is_place_adjective(word):
            continue  # place adjectives do not inflect: "Hagener Verein", "Hagener Stadt"
        for suffix in ADJECTIVE_ENDINGS:
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                result[i] = word[: -len(suffix)] + ending
                break
    return result


def normalize_org(text: str, gaz: Gazetteers | None = None) -> tuple[str, str]:
    """(display form, matching key) of an organisation mention."""
    gaz = gaz or load_gazetteers()
    repaired, _ = clean_and_repair(text.translate(NO_QUOTES))
    cleaned = collapse(repaired.translate(NO_QUOTES))
    for pattern, replacement in LEGAL_FORM_SPELLINGS:
        cleaned = pattern.sub(replacement, cleaned)
    words = cleaned.split()
    # leading articles and lower-case attributes ("vom städtischen …") are not part of the name
    while len(words) > 1 and (words[0].lower() in LEADING_WORDS or words[0][:1].islower()):
        words = words[1:]
    # only the name's head phrase inflects ("des Kommunalen Integrationszentrums"); what
    # follows a connecting word stays as written ("… des Landes Nordrhein-Westfalen")
    head_end = next((i for i, w in enumerate(words) if w[:1].islower()), len(words))
    words = _nominative_adjectives([_nominative_noun(w, gaz) for w in words[:head_end]], gaz) + words[head_end:]
    display = " ".join(words)
    # abbreviations inside longer names are expanded in the key ("VHS Oberhausen", "Landes NRW")
    expanded = [
        gaz.abbreviations[w][0]
        if w in gaz.abbreviations and (gaz.abbreviations[w][1] == "LOC" or len(words) > 1)
        else w
        for w in words
    ]
    key = fold_din(" ".join(w for w in expanded if w not in LEGAL_FORMS)).translate(DASHES) or fold_din(display)
    return display, key


def _nominative_noun_of(word: str, gaz: Gazetteers) -> str:
    """ "Integrationszentrums" → "Integrationszentrum", "Kreises" → "Kreis": a genitive
    -s/-es on a noun the lexicon knows without it."""
    if len(word) < 5 or not word[:1].isupper() or word in gaz.noun_genus or word in gaz.places:
        return word
    for ending in ("es", "s"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and (
            stem in gaz.noun_genus or stem in local_institution_words() or gaz.is_org_word(stem)
        ):
            return stem
    return word


_nominative_noun = WordMemo(_nominative_noun_of)
_is_org_word = WordMemo(lambda word, gaz: gaz.is_org_word(word))
_genus_of = WordMemo(lambda word, gaz: gaz.genus_of(word))


@cache
def local_institution_words() -> frozenset[str]:
    """Head words of bodies every city has its own of (resources/local_institutions.txt)."""
    text = resources.files("pipeline").joinpath("resources", "local_institutions.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def one_slip_from(word: str, words: frozenset[str]) -> str | None:
    """The word of `words` that `word` misspells by one letter (one added, dropped or
    changed, or two swapped: "Integartionsrat", "Volkshochshule"); long words only."""
    if len(word) < MIN_MISSPELT_LENGTH:
        return None
    for known in sorted(words):
        if (
            known[:1] == word[:1]
            and abs(len(known) - len(word)) <= 1
            and OSA.distance(word, known, score_cutoff=1) <= 1
        ):
            return known
    return None
