"""Blocking and pair scoring: one table of candidate pairs, each with its rule and evidence.

Every rule that says "these two forms may name the same entity" adds a row:
(node_a, node_b, type, rule, score, evidence, against). Clustering reads only
this table (plus the reviewers' judgements): pairs scoring at least
`resolve.merge_min_score` are merged, the others are possible duplicates that a
reviewer sees. Scores are fixed per rule (a rule is as reliable as its kind);
fuzzy person matches earn theirs from the evidence in the texts.

Comparisons happen only inside blocks (forms sharing a blocking key, capped at
`resolve.max_block_size`), so the cost grows with the number of distinct names,
not with its square.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from pipeline.gazetteers import Gazetteers
from pipeline.normalize import DASHES, fold_din, fold_plain, normalize_org, phonetic
from pipeline.resolve.forms import Form, acronym_of, place_stripped_key
from pipeline.resolve.frames import records_frame

PAIR_COLUMNS = ["node_a", "node_b", "type", "rule", "score", "evidence", "against"]
STOP_ROLE_WORDS = {"und", "der", "die", "das", "des", "in", "im", "für", "von", "vom", "zur", "zum", "an", "am", "bei"}
# rule → score: how often a join of this kind is right
SCORES = {
    "DIN 5007 folding": 1.0,
    "ASCII folding": 0.98,
    "hyphen or space": 0.95,
    "genitive": 0.93,
    "surname in the same document": 0.95,
    "short form in the same document": 0.92,
    "abbreviation in the same document": 0.92,
    "same body of the same city": 0.9,
    "short place name": 0.9,
    "dropped middle initial": 0.88,
    "fuzzy place": 0.85,
    "fuzzy organisation": 0.9,
    "surname known once in the corpus": 0.82,
}
LONG_WORDS = re.compile(r"\w{4,}")  # the same as the \w+ runs longer than three characters
CONTEXT_DOCS_CAP = 40  # document pairs compared per person pair (frequent names stay cheap)


@dataclass
class Pair:
    node_a: str
    node_b: str
    type: str
    rule: str
    score: float
    evidence: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.node_b < self.node_a:
            self.node_a, self.node_b = self.node_b, self.node_a


def _pair(a: Form, b: Form, rule: str, evidence: str, score: float | None = None, against: Iterable[str] = ()) -> Pair:
    return Pair(a.node, b.node, a.type, rule, SCORES[rule] if score is None else score, [evidence], list(against))


# --- exact rules ----------------------------------------------------------------


@lru_cache(maxsize=500_000)
def hyphen_fold(text: str) -> str:
    return " ".join(fold_plain(text).translate(DASHES).replace("-", " ").split())


def folding_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """Same name in one scope under DIN folding (Kühner/Kuehner), plain folding
    (Aslı/Asli) or with a hyphen for a space (El-Mafaalani/El Mafaalani)."""
    foldings: tuple[tuple[Callable[[str], str], str], ...] = (
        (fold_din, "DIN 5007 folding"),
        (fold_plain, "ASCII folding"),
        (hyphen_fold, "hyphen or space"),
    )
    for folding, rule in foldings:
        first: dict[tuple[str, str, str], Form] = {}
        for form in forms.values():
            key = (form.type, form.scope, folding(form.display))
            if key in first:
                yield _pair(first[key], form, rule, f"{first[key].display} = {form.display}")
            else:
                first[key] = form


def _genitive_variants(words: list[str]) -> Iterable[list[str]]:
    for i, word in enumerate(words):
        for ending in ("'", "’", "s", "es"):
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                yield [*words[:i], word[: -len(ending)], *words[i + 1 :]]


def genitive_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """ "Serap Gülers" → "Serap Güler", "Integrationsrats Hamm" → "Integrationsrat Hamm":
    a form that is another form of its scope plus a genitive ending on one word."""
    by_key = {(f.type, f.scope, fold_plain(f.display)): f for f in forms.values() if f.type in {"PER", "ORG"}}
    for form in forms.values():
        if form.type not in {"PER", "ORG"}:
            continue
        words = fold_plain(form.display).split()
        if form.type == "PER":  # only the surname takes the ending
            variants = [[*words[:-1], *variant] for variant in _genitive_variants(words[-1:])]
        else:
            variants = list(_genitive_variants(words))
        for variant in variants:
            base = by_key.get((form.type, form.scope, " ".join(variant)))
            if base is not None and base.node != form.node:
                yield _pair(base, form, "genitive", f"{form.display} is the genitive of {base.display}")
                break


def _surname_keys(surname: str) -> set[str]:
    """ "El-Mafaalani" is also referred to as "Mafaalani"; "Öztürk-Becker" as "Öztürk-Becker"."""
    folded = fold_plain(surname)
    keys = {folded, hyphen_fold(surname)}
    parts = re.split(r"[\s\-–]+", folded)
    if len(parts) > 1 and len(parts[0]) <= 3:  # a particle: al-, el-, de, van …
        keys.add(parts[-1])
    return keys


def _surname_only_keys(form: Form) -> set[str]:
    keys = _surname_keys(form.surname)
    for key in list(keys):
        for ending in ("'", "’", "s"):
            if key.endswith(ending) and len(key) > 3:
                keys.add(key[: -len(ending)])
    return keys


def _person_id(form: Form) -> tuple[str, str]:
    """What identifies a person among full names of one surname: the first given name."""
    return (fold_plain(form.given[0]).rstrip(".") if form.given else "", fold_plain(form.surname))


def gender(form: Form) -> str:
    """ "f" or "m" where an honorific or a role says so ("Frau", "Oberbürgermeisterin",
    "Herr"), else ""."""
    words = set(form.titles) | {role.split()[0] for role in form.roles if role.split()}
    female = {"Frau", "Fr."} & words or any(w.endswith("in") and len(w) > 5 and w[:1].isupper() for w in words)
    male = {"Herr", "Herrn", "Hr."} & words
    return "f" if female and not male else "m" if male and not female else ""


def surname_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """ "Dudda", "OB Dudda", "Duddas" → the one full name with that surname in the same
    document; where the document has none, the one person of that surname in the
    corpus (any full name of one given name and surname)."""
    full_by_doc: dict[str, list[tuple[Form, set[str]]]] = defaultdict(list)  # with the form's surname keys
    people_by_surname: dict[str, set[tuple[str, str]]] = defaultdict(set)
    forms_by_surname: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "PER" and form.given and not form.scope:
            surname_keys = _surname_keys(form.surname)
            for doc in form.docs:
                full_by_doc[doc].append((form, surname_keys))
            for key in surname_keys:
                people_by_surname[key].add(_person_id(form))
                forms_by_surname[key].append(form)
    for form in forms.values():
        if form.type != "PER" or form.given or not form.scope.startswith("doc:"):
            continue
        doc = form.scope[4:]
        keys = _surname_only_keys(form)
        in_doc = {f.node: f for f, surname_keys in full_by_doc.get(doc, []) if keys & surname_keys}
        if not in_doc:
            sound = phonetic(form.surname)
            in_doc = {f.node: f for f, _ in full_by_doc.get(doc, []) if phonetic(f.surname) == sound}
        people_in_doc = {_person_id(f) for f in in_doc.values()}
        if len(people_in_doc) == 1:
            target = min(in_doc.values(), key=lambda f: (-f.n_mentions, f.node))
            yield _pair(target, form, "surname in the same document", f"{form.display} → {target.display}")
            continue
        if in_doc:
            continue  # two people of that surname in the text: which one is open
        people = set().union(*(people_by_surname.get(k, set()) for k in keys))
        candidates = [f for k in keys for f in forms_by_surname.get(k, [])]
        genders = {gender(f) for f in candidates} - {""}
        if len(people) == 1 and not (gender(form) and genders and gender(form) not in genders):
            target = min(candidates, key=lambda f: (-f.n_mentions, f.node))
            yield _pair(
                target,
                form,
                "surname known once in the corpus",
                f"{form.display} → {target.display}, the only person of that surname in the documents",
                against=[f"the full name is not in document {doc}"],
            )


def middle_initial_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """ "David Lüngen" / "David A. Lüngen": the same given name and surname, one with a
    middle initial; merged only where one such fuller form exists."""
    by_person: dict[tuple[str, str], list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "PER" and form.given and not form.scope:
            by_person[_person_id(form)].append(form)
    for group in by_person.values():
        if len(group) < 2:
            continue
        plain = [f for f in group if len(f.given) == 1]
        fuller = [f for f in group if len(f.given) > 1 and all(len(g.rstrip(".")) == 1 for g in f.given[1:])]
        distinct = {tuple(fold_plain(g).rstrip(".") for g in f.given) for f in fuller}
        for short in plain:
            for long in fuller:
                if len(distinct) == 1:
                    yield _pair(long, short, "dropped middle initial", f"{short.display} = {long.display}")
                else:
                    yield _pair(
                        long,
                        short,
                        "dropped middle initial",
                        f"{short.display} may be {long.display}",
                        score=0.6,
                        against=["several middle initials of that name occur"],
                    )


def short_place_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """ "Mülheim" → "Mülheim an der Ruhr" when exactly one longer place in the corpus starts with it."""
    long_by_first: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "LOC" and " " in form.display:
            long_by_first[form.display.split()[0]].append(form)
    for form in forms.values():
        if form.type == "LOC" and " " not in form.display and len(long_by_first.get(form.display, [])) == 1:
            target = long_by_first[form.display][0]
            yield _pair(target, form, "short place name", f"{form.display} is short for {target.display}")


def short_org_pairs(forms: dict[str, Form]) -> Iterable[Pair]:
    """Document-local short names and abbreviations → their long form in the same document."""
    by_doc: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "ORG":
            for doc in form.docs:
                by_doc[doc].append(form)
    for form in forms.values():
        if form.type != "ORG" or not form.scope.startswith("doc:"):
            continue
        doc = form.scope[4:]
        longer = [f for f in by_doc[doc] if f.key != form.key and f.key.startswith(form.key + " ") and not f.scope]
        if longer:
            target = min(longer, key=lambda f: (len(f.key), f.node))
            yield _pair(target, form, "short form in the same document", f"{form.display} → {target.display}")
            continue
        expansions = [f for f in by_doc[doc] if f.node != form.node and acronym_of(form.display, f.display)]
        if expansions:
            target = min(expansions, key=lambda f: (len(f.key), f.node))
            yield _pair(target, form, "abbreviation in the same document", f"{form.display} = {target.display}")


def city_body_pairs(forms: dict[str, Form], gaz: Gazetteers, doc_city: dict[str, str]) -> Iterable[Pair]:
    """A body in a city's documents named without the city ("Integrationsrat" and "KI" in
    Dortmund texts, "Elternverein Nord" in texts from one city) and the body named with
    that city ("Integrationsrat der Stadt Dortmund", "KI Bochum", "Elternverein Nord Witten")."""
    by_city: dict[str, list[tuple[Form, str]]] = defaultdict(list)
    for form in forms.values():
        if form.type != "ORG":
            continue
        if form.scope.startswith("city:"):
            by_city[form.scope[5:]].append((form, form.display))
        elif not form.scope:
            base, city = place_stripped_key(form.display, gaz)
            if base:
                by_city[fold_din(city)].append((form, base))
            else:
                cities = {doc_city.get(doc, "") for doc in form.docs}
                if len(cities) == 1 and "" not in cities:  # all its documents come from one city
                    by_city[fold_din(cities.pop())].append((form, form.display))
    base_keys: dict[str, str] = {}

    def key_of(base: str) -> str:
        if base not in base_keys:
            base_keys[base] = normalize_org(base, gaz)[1]
        return base_keys[base]

    for group in by_city.values():
        if len(group) > 200:  # a city with hundreds of named bodies: compare by exact base only
            group = sorted(group, key=lambda item: (key_of(item[1]), item[0].node))
        for i, (a, base_a) in enumerate(group):
            for b, base_b in group[i + 1 : i + 1 + 200]:
                if a.scope == b.scope and a.scope:
                    same = acronym_of(base_a, base_b) or acronym_of(base_b, base_a)
                else:
                    same = key_of(base_a) == key_of(base_b) or acronym_of(base_a, base_b) or acronym_of(base_b, base_a)
                if same:
                    city = (
                        a.city
                        or b.city
                        or place_stripped_key(a.display, gaz)[1]
                        or place_stripped_key(b.display, gaz)[1]
                    )
                    yield _pair(a, b, "same body of the same city", f"{a.display} = {b.display} ({city})")


# --- fuzzy rules -----------------------------------------------------------------


def blocks(forms: Iterable[Form], keys: Iterable[Callable[[Form], str]], max_size: int) -> Iterable[list[Form]]:
    """Groups of forms sharing a blocking key; oversized groups are split by a finer key."""
    forms = list(forms)
    for make_key in keys:
        groups: dict[str, list[Form]] = defaultdict(list)
        for form in forms:
            key = make_key(form)
            if key:
                groups[key].append(form)
        for group in groups.values():
            if len(group) < 2:
                continue
            if len(group) > max_size:
                finer: dict[str, list[Form]] = defaultdict(list)
                for form in group:
                    finer[fold_plain(form.display)[:6]].append(form)
                yield from (g[:max_size] for g in finer.values() if len(g) > 1)
            else:
                yield group


TRANSLITERATION = (("sch", "s"), ("tsch", "c"), ("ts", "s"), ("tz", "s"), ("ph", "f"), ("th", "t"), ("ck", "k"))
SKELETON_LETTERS = str.maketrans({"w": "v", "z": "s", "d": "t", "j": "i", "q": "k", "c": "k"})
VOWELS = re.compile(r"(?<=.)[aeiouy]")
REPEATS = re.compile(r"(.)\1+")


@lru_cache(maxsize=500_000)
def skeleton(word: str) -> str:
    """A spelling-blind key: transliteration pairs unified (w/v, z/s, d/t, ts/z …) and
    vowels after the first letter dropped ("Mohammad"/"Mohammed", "Kusnezowa"/"Kuznetsova")."""
    text = hyphen_fold(word).replace(" ", "")
    for old, new in TRANSLITERATION:
        text = text.replace(old, new)
    text = text.translate(SKELETON_LETTERS)
    return REPEATS.sub(r"\1", VOWELS.sub("", text))


@dataclass
class Context:
    """What the texts say around each form: evidence for fuzzy person matches."""

    doc_entities: dict[str, set[str]]
    person_sentences: dict[str, list[tuple[str, str]]]  # node → (sentence, text) of each of its mentions
    doc_city: dict[str, str]
    people_by_surname: dict[str, set[str]]  # folded surname → skeletons of the first given names seen with it
    _sentence_words: dict[str, set[frozenset[str]]] = field(default_factory=dict)

    def area(self, doc: str) -> str:
        """The document's city, districts counted with their seat ("Kreis Unna" → "unna")."""
        return fold_din(self.doc_city.get(doc, "").removeprefix("Kreis "))

    def sentences(self, node: str) -> set[frozenset[str]]:
        """The words (over three letters) of each sentence around a person form, without
        the name itself; found when first asked for, as few forms are ever compared."""
        found = self._sentence_words.get(node)
        if found is None:
            found = self._sentence_words[node] = set()
            for sentence, text in self.person_sentences.get(node, ()):
                words = frozenset(LONG_WORDS.findall(sentence.replace(text, " ").lower()))
                if words:
                    found.add(words)
        return found


def build_context(entity_mentions: pd.DataFrame, forms: dict[str, Form], doc_city: dict[str, str]) -> Context:
    doc_entities: dict[str, set[str]] = defaultdict(set)
    # lists: walking them costs a fraction of walking the columns
    for doc, node in zip(entity_mentions["doc_id"].tolist(), entity_mentions["node"].tolist(), strict=True):
        doc_entities[doc].add(node)
    sentences: dict[str, list[tuple[str, str]]] = defaultdict(list)
    persons = entity_mentions[entity_mentions["label"] == "PER"]
    for node, sentence, text in zip(*(persons[c].tolist() for c in ("node", "sentence", "text")), strict=True):
        sentences[node].append((sentence, text))
    people: dict[str, set[str]] = defaultdict(set)
    for form in forms.values():
        if form.type == "PER" and form.given and not form.scope:
            people[hyphen_fold(form.surname)].add(skeleton(form.given[0]))
    return Context(doc_entities, dict(sentences), doc_city, dict(people))


def _jaccard(a: set | frozenset, b: set | frozenset) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _role_words(form: Form) -> set[str]:
    return {w.lower() for role in form.roles for w in re.findall(r"\w+", role) if w.lower() not in STOP_ROLE_WORDS}


def person_evidence(a: Form, b: Form, context: Context, settings: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(evidence for, evidence against) that two similar full names are one person,
    judged per pair of documents: a frequent person's many documents do not dilute it."""
    evidence, against = [], []
    shared_docs = sorted(a.docs & b.docs)
    if shared_docs:
        evidence.append(f"both forms in the same document ({shared_docs[0]})")
    shared_roles = _role_words(a) & _role_words(b)
    if shared_roles:
        originals = {w for role in a.roles for w in re.findall(r"\w+", role) if w.lower() in shared_roles}
        evidence.append("shared role words: " + ", ".join(sorted(originals)))
    elif _role_words(a) and _role_words(b):
        against.append("their roles share no word")
    best_overlap, best_docs = 0.0, ("", "")
    if not shared_docs:
        pair = {a.node, b.node}
        contexts_b = [(doc_b, context.doc_entities[doc_b] - pair) for doc_b in sorted(b.docs)[:CONTEXT_DOCS_CAP]]
        for doc_a in sorted(a.docs)[:CONTEXT_DOCS_CAP]:
            context_a = context.doc_entities[doc_a] - pair
            for doc_b, context_b in contexts_b:
                overlap = _jaccard(context_a, context_b)
                if overlap > best_overlap:
                    best_overlap, best_docs = overlap, (doc_a, doc_b)
        if best_overlap >= settings["context_min_jaccard"]:
            evidence.append(f"shared context in {best_docs[0]} and {best_docs[1]} (Jaccard {best_overlap:.2f})")
        else:
            against.append(f"no document shares their context (best Jaccard {best_overlap:.2f})")
    areas_a = {context.area(d) for d in a.docs} - {""}
    shared_areas = sorted(areas_a & {context.area(d) for d in b.docs})
    if shared_areas and not shared_docs:
        evidence.append(f"documents from the same city ({shared_areas[0]})")
    surname = hyphen_fold(a.surname)
    if surname == hyphen_fold(b.surname) and len(context.people_by_surname.get(surname, ())) == 1:
        evidence.append(f"the only person named {a.surname} in the documents")
    best_sentence = max(
        (_jaccard(x, y) for x in context.sentences(a.node) for y in context.sentences(b.node)),
        default=0.0,
    )
    if best_sentence >= settings["sentence_min_jaccard"]:
        evidence.append(f"same sentence around both (Jaccard {best_sentence:.2f})")
    return evidence, against


def _codes(values: list[Any]) -> np.ndarray:
    """Equal values → equal integers (for comparing many pairs at once)."""
    return pd.factorize(np.array(values, dtype=object))[0]


def block_pairs(blocks: Iterable[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions that share a block, once: (earlier, later) arrays."""
    by_size: dict[int, list[list[int]]] = defaultdict(list)
    for block in blocks:
        by_size[len(block)].append(block)
    firsts, seconds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for size, group in by_size.items():
        members = np.array(group, dtype=np.int64)
        i, j = np.triu_indices(size, 1)
        firsts.append(members[:, i].ravel())
        seconds.append(members[:, j].ravel())
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    a, b = np.minimum(a, b), np.maximum(a, b)
    unique = np.unique(a * (int(b.max(initial=0)) + 1) + b, return_index=True)[1]
    return a[unique], b[unique]


@dataclass
class PersonNames:
    """Per full-name form, what the fuzzy person rule compares (folded once, as codes)."""

    forms: list[Form]
    folded: list[str]  # hyphen-folded display
    folded_surname: list[str]
    display: np.ndarray  # codes of `folded`
    skeleton: np.ndarray
    sound: np.ndarray  # Kölner Phonetik of the surname
    n_given: np.ndarray
    given_full: np.ndarray  # (position of a given name, form) → code of the folded name
    given_first: np.ndarray  # … → code of its first letter
    given_initial: np.ndarray  # … → whether it is an initial

    @classmethod
    def of(cls, forms: list[Form]) -> PersonNames:
        folded = [hyphen_fold(f.display) for f in forms]
        width = max((len(f.given) for f in forms), default=0)
        shape = (width, len(forms))
        given = [[fold_plain(g).rstrip(".") for g in f.given] + [""] * (width - len(f.given)) for f in forms]
        padding = np.array([[k >= len(f.given) for f in forms] for k in range(width)], dtype=bool).reshape(shape)
        full = _codes([g[k] for k in range(width) for g in given]).reshape(shape)
        first = _codes([g[k][:1] for k in range(width) for g in given]).reshape(shape)
        initial = np.array([len(g[k]) == 1 for k in range(width) for g in given], dtype=bool).reshape(shape)
        return cls(
            forms=forms,
            folded=folded,
            folded_surname=[hyphen_fold(f.surname) for f in forms],
            display=_codes(folded),
            skeleton=_codes([skeleton(f.display) for f in forms]),
            sound=_codes([phonetic(f.surname) for f in forms]),
            n_given=np.array([len(f.given) for f in forms], dtype=np.int64),
            given_full=np.where(padding, -1, full),
            given_first=np.where(padding, -1, first),
            given_initial=initial & ~padding,
        )

    def initials_compatible(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """`initials_compatible` of each pair of forms with as many given names."""
        ok = np.ones(len(a), dtype=bool)
        for full, first, initial in zip(self.given_full, self.given_first, self.given_initial, strict=True):
            either = initial[a] | initial[b]
            ok &= np.where(either, first[a] == first[b], full[a] == full[b])
        return ok


def score_person_blocks(
    names: PersonNames, blocks: Iterable[list[int]], context: Context, settings: dict[str, Any]
) -> list[Pair]:
    """The fuzzy person pairs among the forms sharing a block (positions in `names.forms`):
    a pure function of its blocks, so blocks can be scored in any grouping and order.
    The cheap tests run on all pairs at once; text evidence is looked up for the few left."""
    a, b = block_pairs(blocks)
    keep = (names.display[a] != names.display[b]) & (names.n_given[a] == names.n_given[b])
    a, b = a[keep], b[keep]
    same_skeleton = names.skeleton[a] == names.skeleton[b]
    keep = names.initials_compatible(a, b) | same_skeleton
    a, b, same_skeleton = a[keep], b[keep], same_skeleton[keep]
    if not len(a):
        return []
    name_ratio = cpdist([names.folded[i] for i in a], [names.folded[i] for i in b], dtype=np.float64).ravel()
    surname_ratio = cpdist(
        [names.folded_surname[i] for i in a], [names.folded_surname[i] for i in b], dtype=np.float64
    ).ravel()
    same_sound = names.sound[a] == names.sound[b]
    similar = (name_ratio >= settings["person_name_min_ratio"]) & (
        same_sound | (surname_ratio >= settings["person_surname_min_ratio"])
    )
    keep = np.flatnonzero(similar | same_skeleton)
    pairs = []
    for k in keep.tolist():
        first, second = names.forms[a[k]], names.forms[b[k]]
        pairs.append(
            _person_pair(
                first,
                second,
                float(name_ratio[k]),
                float(surname_ratio[k]),
                bool(same_sound[k]),
                bool(similar[k]),
                bool(same_skeleton[k]),
                context,
                settings,
            )
        )
    return pairs


def _person_pair(
    a: Form,
    b: Form,
    name_ratio: float,
    surname_ratio: float,
    same_sound: bool,
    similar: bool,
    same_skeleton: bool,
    context: Context,
    settings: dict[str, Any],
) -> Pair:
    evidence, against = person_evidence(a, b, context, settings)
    similarity = f"name ratio {name_ratio:.0f}" + (
        f", Kölner Phonetik {phonetic(a.surname)}" if same_sound else f", surname ratio {surname_ratio:.0f}"
    )
    if same_skeleton and not similar:
        similarity += ", same spelling skeleton (transliteration)"
    if len(evidence) >= settings["person_min_evidence"]:
        score = min(0.97, settings["merge_min_score"] + 0.04 * len(evidence))
    else:
        score = round(0.4 + 0.3 * (name_ratio - 70) / 30, 3)
        against = ["no evidence in the texts beyond the name", *against]
    return Pair(a.node, b.node, "PER", "similar name", score, [similarity, *evidence], against)


def person_blocks(names: PersonNames, max_size: int) -> list[list[int]]:
    """The blocks of full names compared by the fuzzy person rule, as positions in `names.forms`."""
    keys = (
        lambda f: phonetic(f.surname) + "|" + fold_plain(f.given[0])[:1],
        lambda f: fold_plain(f.surname)[:3] + "|" + fold_plain(f.given[0])[:1],
        lambda f: skeleton(f.surname) + "|" + skeleton(f.given[0])[:2],
        lambda f: fold_plain(f.given[0]) + "|" + fold_plain(f.surname)[:1],
    )
    position = {id(f): i for i, f in enumerate(names.forms)}
    return [[position[id(f)] for f in block] for block in blocks(names.forms, keys, max_size)]


def fuzzy_person_pairs(forms: dict[str, Form], context: Context, settings: dict[str, Any]) -> Iterable[Pair]:
    """Typo and transliteration variants of full names; merged only with evidence from the texts."""
    names = PersonNames.of([f for f in forms.values() if f.type == "PER" and f.given and not f.scope])
    return score_person_blocks(names, person_blocks(names, settings["max_block_size"]), context, settings)


def fuzzy_place_pairs(forms: dict[str, Form], gaz: Gazetteers, settings: dict[str, Any]) -> Iterable[Pair]:
    """A place the gazetteer does not know, one typo away from one it knows."""
    places = [f for f in forms.values() if f.type == "LOC"]
    keys = (lambda f: phonetic(f.display), lambda f: fold_plain(f.display)[:3])
    seen: set[tuple[str, str]] = set()
    for block in blocks(places, keys, settings["max_block_size"]):
        known = [f for f in block if f.display in gaz.places]
        for u in (f for f in block if f.display not in gaz.places):
            scored = [(fuzz.ratio(fold_plain(u.display), fold_plain(k.display)), k) for k in known]
            scored = [(s, k) for s, k in scored if s >= settings["place_min_ratio"]]
            if len(scored) == 1 and (u.node, scored[0][1].node) not in seen:
                ratio, target = scored[0]
                seen.add((u.node, target.node))
                yield _pair(
                    target,
                    u,
                    "fuzzy place",
                    f"{u.display} ~ {target.display} (ratio {ratio:.0f}; the gazetteer knows only {target.display})",
                )


def fuzzy_org_pairs(forms: dict[str, Form], gaz: Gazetteers, settings: dict[str, Any]) -> Iterable[Pair]:
    """Organisation names one typo apart, within one scope (a city's generic bodies stay in that city)."""
    orgs = [f for f in forms.values() if f.type == "ORG" and not f.scope.startswith("doc:")]
    keys = (
        lambda f: f.scope + "|" + (f.key.split()[0] if f.key else ""),
        lambda f: f.scope + "|" + f.key[:3] + "|" + str(len(f.key.split())),
    )
    seen: set[tuple[str, str]] = set()
    for block in blocks(orgs, keys, settings["max_block_size"]):
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                pair = (min(a.node, b.node), max(a.node, b.node))
                if pair in seen or a.scope != b.scope:
                    continue
                seen.add(pair)
                ratio = fuzz.token_sort_ratio(a.key, b.key)
                if ratio < settings["org_candidate_min_ratio"]:
                    continue
                place_a, place_b = place_stripped_key(a.display, gaz)[1], place_stripped_key(b.display, gaz)[1]
                places_differ = bool(place_a and place_b and place_a != place_b)
                if ratio >= settings["org_min_ratio"] and not places_differ:
                    yield _pair(a, b, "fuzzy organisation", f"{a.display} ~ {b.display} (token-sort ratio {ratio:.0f})")
                else:
                    against = ["they name different places"] if places_differ else []
                    yield _pair(
                        a,
                        b,
                        "fuzzy organisation",
                        f"{a.display} ~ {b.display} (token-sort ratio {ratio:.0f})",
                        score=0.55,
                        against=against or [f"ratio below {settings['org_min_ratio']}"],
                    )


def score_pairs(
    forms: dict[str, Form],
    entity_mentions: pd.DataFrame,
    doc_city: dict[str, str],
    gaz: Gazetteers,
    settings: dict[str, Any],
) -> list[Pair]:
    """The candidate-pair table: every rule's pairs, one row per node pair (the best-scored one)."""
    context = build_context(entity_mentions, forms, doc_city)
    generators: list[Iterable[Pair]] = [
        folding_pairs(forms),
        genitive_pairs(forms),
        surname_pairs(forms),
        middle_initial_pairs(forms),
        short_place_pairs(forms),
        short_org_pairs(forms),
        city_body_pairs(forms, gaz, doc_city),
        fuzzy_person_pairs(forms, context, settings),
        fuzzy_place_pairs(forms, gaz, settings),
        fuzzy_org_pairs(forms, gaz, settings),
    ]
    best: dict[tuple[str, str], Pair] = {}
    for generator in generators:
        for pair in generator:
            key = (pair.node_a, pair.node_b)
            if pair.node_a == pair.node_b:
                continue
            if key not in best or pair.score > best[key].score:
                best[key] = pair
    return sorted(best.values(), key=lambda p: (-p.score, p.node_a, p.node_b))


def pairs_frame(pairs: list[Pair]) -> pd.DataFrame:
    return records_frame(
        [
            {
                "node_a": p.node_a,
                "node_b": p.node_b,
                "type": p.type,
                "rule": p.rule,
                "score": p.score,
                "evidence": " | ".join(p.evidence),
                "against": " | ".join(p.against),
            }
            for p in pairs
        ],
        PAIR_COLUMNS,
    )
