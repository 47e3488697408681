"""Mentions → form nodes: every distinct normalised surface of one type, with its scope.

A node is `TYPE|key` (one name across the corpus) or `TYPE|scope|key` where a
name only means something inside a scope:
- a surname alone, or a short organisation name whose long form is in the same
  text, is local to its document (scope `doc:<doc_id>`);
- a generic name of a municipal body ("Kommunales Integrationszentrum",
  "Integrationsrat", "Jobcenter") names a different body in every city, so it is
  local to the city the document comes from (scope `city:<city>`), or to its
  document when that city is unknown. It is never merged across cities by name.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from pipeline.gazetteers import Gazetteers, load_gazetteers
from pipeline.normalize import (
    LEGAL_FORMS,
    WordMemo,
    fold_din,
    local_institution_words,
    normalize_org,
    normalize_place,
    one_slip_from,
    parse_person,
    person_key,
)

ENTITY_TYPES = ("PER", "LOC", "ORG")
SCOPE_SEPARATOR = "|"
_PLACE_WORDS: dict[str, list[str]] = {}  # display → its place words (one gazetteer per process)
PLACE_CONNECTORS = {"der", "des", "stadt", "kreisstadt", "kreis", "kreises", "im", "in", "für", "fuer"}
ISSUER_PLACE = re.compile(r"(?:Stadt|Kreisstadt|Gemeinde|Kreis|Stadtverwaltung|Kreisverwaltung)\s+(.+)$")


def node_scope(node: str) -> str:
    """ "doc:x" or "city:y" for scoped nodes, "" for corpus-wide ones."""
    parts = node.split(SCOPE_SEPARATOR)
    return parts[1] if len(parts) == 3 else ""


def scoped_node(type_: str, scope: str, key: str) -> str:
    return SCOPE_SEPARATOR.join((type_, scope.replace(SCOPE_SEPARATOR, "¦"), key.replace(SCOPE_SEPARATOR, "¦")))


def doc_scope(doc_id: str) -> str:
    return f"doc:{doc_id}"


@dataclass
class Form:
    """One distinct normalised surface of one type in one scope (all its mentions share it)."""

    node: str
    type: str
    display: str  # the first display seen; `displays` counts them all
    key: str
    rule: str = ""
    repaired: str = ""
    given: tuple[str, ...] = ()
    surname: str = ""
    city: str = ""  # for a generic organisation: the city it belongs to (display form)
    titles: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    surfaces: Counter = field(default_factory=Counter)
    displays: Counter = field(default_factory=Counter)
    repaired_displays: set[str] = field(default_factory=set)
    docs: set[str] = field(default_factory=set)
    n_mentions: int = 0
    scope: str = ""  # "" (corpus-wide), "doc:…", "city:…" or "split:…", from the node

    def __post_init__(self) -> None:
        self.scope = node_scope(self.node)


def _normalise(label: str, text: str, gaz: Gazetteers) -> dict[str, Any]:
    if label == "PER":
        name = parse_person(text, gaz)
        return {
            "display": name.display,
            "key": person_key(name),
            "rule": "surname only" if name.is_surname_only else "",
            "repaired": name.repaired,
            "given": name.given,
            "surname": name.surname,
            "titles": name.titles,
            "roles": name.roles,
        }
    if label == "LOC":
        base, rule = normalize_place(text, gaz)
        return {"display": base, "key": fold_din(base), "rule": rule, "repaired": "repair" if rule == "repair" else ""}
    display, key = normalize_org(text, gaz)
    if display in gaz.abbreviations and gaz.abbreviations[display][1] == "ORG":
        key = fold_din(gaz.abbreviations[display][0])
    return {"display": display, "key": key, "rule": "", "repaired": ""}


def _objects(values: list[Any], index: pd.Index) -> pd.Series:
    """A column of plain Python values: pandas 3 would store text Arrow-backed,
    and the row-by-row passes below read it several times more slowly."""
    return pd.Series(values, index=index, dtype=object)


NORMALISE_BATCH = 5_000  # distinct names per task with another engine
# mapper(function, batches) → function(batch) of each batch, in order (local: a loop)
Mapper = Callable[..., Iterator[Any]]
NORMALISED_FIELDS = ("display", "key", "rule", "repaired", "given", "surname", "titles", "roles")
TUPLE_FIELDS = {"given", "titles", "roles"}
Normalised = dict[tuple[str, str], dict[str, Any]]


def normalise_batch(names: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The normalised forms of a batch of distinct (label, text), with this process's
    gazetteers. Pure, so another engine runs batches of it as tasks (pipeline/engine.py)."""
    gaz = load_gazetteers()
    return [_normalise(label, text, gaz) for label, text in names]


def normalise_mentions(
    mentions: pd.DataFrame, gaz: Gazetteers, known: Normalised | None = None, mapper: Mapper | None = None
) -> tuple[pd.DataFrame, Normalised]:
    """PER/LOC/ORG mentions with their normalised columns added, and the normalised
    form of each distinct (label, text). Each is normalised once; `known` holds forms
    normalised before (an earlier run's, with the same normaliser), which are reused.
    `mapper` runs normalise_batch over batches of the new names elsewhere when there is
    more than one batch (the workers use the default gazetteers, so it is for runs with
    those only).
    The extractor's own `titles`/`roles` are kept as `mention_titles`/`mention_roles`."""
    known = known or {}
    entity_mentions = mentions[mentions["label"].isin(ENTITY_TYPES)].rename(
        columns={"titles": "mention_titles", "roles": "mention_roles"}
    )
    # each distinct (label, text) is normalised once; rows take their values by code
    label_codes, labels = pd.factorize(entity_mentions["label"].to_numpy(dtype=object), use_na_sentinel=False)
    text_codes, texts = pd.factorize(entity_mentions["text"].to_numpy(dtype=object), use_na_sentinel=False)
    width = max(len(texts), 1)
    codes, pair_codes = pd.factorize(label_codes.astype(np.int64) * width + text_codes)
    pairs = [(labels[code // width], texts[code % width]) for code in pair_codes.tolist()]
    new = [pair for pair in pairs if pair not in known]
    if mapper is None or len(new) <= NORMALISE_BATCH:  # one batch alone gains nothing elsewhere
        computed = [_normalise(label, text, gaz) for label, text in new]
    else:
        batches = (new[i : i + NORMALISE_BATCH] for i in range(0, len(new), NORMALISE_BATCH))
        computed = [value for batch in mapper(normalise_batch, batches) for value in batch]
    fresh = dict(zip(new, computed, strict=True))
    normalised: Normalised = {pair: known[pair] if pair in known else fresh[pair] for pair in pairs}
    values = list(normalised.values())
    for column, name, default in (
        ("display", "display", ""),
        ("key", "key", ""),
        ("rule", "rule", ""),
        ("repaired", "repaired", ""),
        ("given", "given", ()),
        ("surname", "surname", ""),
        ("parsed_titles", "titles", ()),
        ("parsed_roles", "roles", ()),
    ):
        distinct = pd.Series([v.get(name, default) for v in values], dtype=object).to_numpy()
        entity_mentions[column] = _objects(distinct[codes], entity_mentions.index)
    return entity_mentions, normalised


def normalised_table(normalised: Normalised) -> pd.DataFrame:
    """The normalised forms as a table to keep for the next run (tuples as JSON lists)."""
    rows = [
        (
            label,
            text,
            *(json.dumps(list(v.get(f, ()))) if f in TUPLE_FIELDS else v.get(f, "") for f in NORMALISED_FIELDS),
        )
        for (label, text), v in sorted(normalised.items())
    ]
    return pd.DataFrame(rows, columns=["label", "text", *NORMALISED_FIELDS])


def normalised_from_table(table: pd.DataFrame) -> Normalised:
    """normalised_table's inverse."""
    known: Normalised = {}
    columns = ["label", "text", *NORMALISED_FIELDS]
    # column lists, not Arrow rows; most tuples are empty and need no JSON parser
    for label, text, *values in zip(*(table[c].tolist() for c in columns), strict=True):
        value = {
            f: ((tuple(json.loads(v)) if v != "[]" else ()) if f in TUPLE_FIELDS else v)
            for f, v in zip(NORMALISED_FIELDS, values, strict=True)
        }
        if label != "PER":  # places and organisations carry only the first four fields
            value = {f: value[f] for f in NORMALISED_FIELDS[:4]}
        known[(label, text)] = value
    return known


_is_place_word = WordMemo(lambda word, gaz: normalize_place(word.rstrip(","), gaz)[0] in gaz.places)


def _place_words(display: str, gaz: Gazetteers) -> list[str]:
    if display in _PLACE_WORDS:
        return _PLACE_WORDS[display]
    words = display.replace("-", " ").split()
    found = [w for w in words if _is_place_word(w, gaz)]
    if len(_PLACE_WORDS) < 200_000:
        _PLACE_WORDS[display] = found
    return found


def is_generic_org(display: str, gaz: Gazetteers) -> bool:
    """A name every city has its own of: its head is a municipal body and it names no
    place ("Kommunales Integrationszentrum", "Fachbereich Jugend", "Integrationsrat")."""
    words = display.split()
    if not words or _place_words(display, gaz):
        return False
    return any(_is_local_institution_head(word.strip(".,"), gaz) for word in words)


def _local_institution_head_of(word: str, gaz: Gazetteers) -> bool:
    heads = local_institution_words()
    stems = (word, word.removesuffix("s"), word.removesuffix("es"))
    if any(stem in heads for stem in stems):
        return True
    # misspelt ("Integartionsrat"): then it stays with its city's body, where the fuzzy rule finds it
    return word not in gaz.common_nouns and any(one_slip_from(stem, heads) for stem in stems)


_is_local_institution_head = WordMemo(_local_institution_head_of)


def city_of_issuer(issuer: str, gaz: Gazetteers) -> str:
    """ "Pressestelle der Stadt Herne" → "Herne"; "Kreis Unna" → "Kreis Unna"; "" if none."""
    match = ISSUER_PLACE.search(issuer or "")
    if not match:
        return ""
    place = match.group(1).strip()
    if normalize_place(place, gaz)[0] not in gaz.places:
        return ""
    return f"Kreis {place}" if re.search(r"\bKreis(?:verwaltung)?\s", match.group(0)) else place


def document_cities(documents: pd.DataFrame, entity_mentions: pd.DataFrame, gaz: Gazetteers) -> dict[str, str]:
    """doc_id → the city the document comes from: its issuer ("Stadt X", ingest's
    `issuer_city`), else the one German municipality it names most often."""
    cities: dict[str, str] = {}
    columns = set(documents.columns)
    for row in documents.itertuples(index=False):
        city = getattr(row, "issuer_city", "") if "issuer_city" in columns else ""
        city = city or city_of_issuer(getattr(row, "issuer", "") if "issuer" in columns else "", gaz)
        if city:
            cities[row.doc_id] = city
    places = entity_mentions[(entity_mentions["label"] == "LOC") & ~entity_mentions["doc_id"].isin(cities)]
    counts: dict[str, Counter] = defaultdict(Counter)
    for doc_id, display in zip(places["doc_id"], places["display"], strict=True):
        if display in gaz.german_municipalities:
            counts[doc_id][display] += 1
    for doc_id, counter in counts.items():
        ranked = counter.most_common(2)
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            cities[doc_id] = ranked[0][0]
    return cities


def _initials(display: str) -> set[str]:
    """ "KI" for "Kommunales Integrationszentrum"; "" when under two capitalised words."""
    initials = "".join(w[0] for w in re.split(r"[\s\-–]+", display) if w[:1].isupper())
    return {initials} if len(initials) >= 2 else set()


def acronym_of(short: str, long_display: str) -> bool:
    """ "KI" of "Kommunales Integrationszentrum": the initials of the long form's words."""
    if not (2 <= len(short) <= 10 and short.isupper() and short.isalpha()):
        return False
    return short in _initials(long_display)


def assign_nodes(entity_mentions: pd.DataFrame, cities: dict[str, str], gaz: Gazetteers) -> tuple[pd.Series, dict]:
    """Node per mention (see module docstring), and city scope → the city's display name."""
    labels = entity_mentions["label"].tolist()
    keys = entity_mentions["key"].tolist()
    doc_ids = entity_mentions["doc_id"].tolist()
    displays = entity_mentions["display"].tolist()
    rules = entity_mentions["rule"].tolist()
    nodes = [label + SCOPE_SEPARATOR + key for label, key in zip(labels, keys, strict=True)]
    org_rows: dict[str, list[int]] = defaultdict(list)  # doc → positions of its organisations
    for i, label in enumerate(labels):
        if label == "PER" and rules[i] == "surname only":
            nodes[i] = scoped_node("PER", doc_scope(doc_ids[i]), keys[i])
        elif label == "ORG":
            org_rows[doc_ids[i]].append(i)
    city_names: dict[str, str] = {}
    generic = {
        display: is_generic_org(display, gaz)
        or (display in gaz.abbreviations and is_generic_org(gaz.abbreviations[display][0], gaz))
        for display in {displays[i] for rows in org_rows.values() for i in rows}
    }
    generic_acronyms = {
        acronym for display, is_generic in generic.items() if is_generic for acronym in _initials(display)
    }
    for doc_id, rows in org_rows.items():
        doc_keys = {keys[i] for i in rows}
        doc_displays = {displays[i] for i in rows}
        for i in rows:
            key, display = keys[i], displays[i]
            has_long_form = any(other != key and other.startswith(key + " ") for other in doc_keys) or any(
                acronym_of(display, other) for other in doc_displays
            )
            if has_long_form:
                nodes[i] = scoped_node("ORG", doc_scope(doc_id), key)
            elif generic[display] or display in generic_acronyms:
                city = cities.get(doc_id, "")
                scope = f"city:{fold_din(city)}" if city else doc_scope(doc_id)
                city_names[scope] = city
                nodes[i] = scoped_node("ORG", scope, key)
    return pd.Series(nodes, index=entity_mentions.index, dtype=object), city_names


def _split_cells(column: pd.Series, separator: str | None, order: np.ndarray) -> tuple[list[list[str]], np.ndarray]:
    """The extractor's titles ("Dr. Prof.") or roles ("Sprecherin | Leiterin") of the rows
    in `order`, each distinct cell split once: (parts per row, whether a row has any)."""
    codes, cells = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=False)
    parts = [[p for p in str(cell).split(separator) if p] for cell in cells]
    has = np.array([bool(p) for p in parts] + [False], dtype=bool)  # an extra entry: indexable when empty
    ordered = codes[order]
    return [parts[c] for c in ordered.tolist()], has[ordered]


def _counts(values: list[Any], start: int, end: int) -> Counter:
    if end - start == 1:  # most nodes: one mention, counted without Counter.update
        counts: Counter = Counter()
        counts[values[start]] = 1
        return counts
    return Counter(values[start:end])


def build_forms(entity_mentions: pd.DataFrame, city_names: dict[str, str]) -> dict[str, Form]:
    """One form per node, in the order the nodes first occur; a node's mentions are
    counted in one go (its rows are taken together, in their order)."""
    codes, nodes = pd.factorize(entity_mentions["node"].to_numpy(dtype=object))
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0]) if len(codes) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(codes)].astype(np.int64)

    def column(name: str, rows: np.ndarray = order) -> list[Any]:
        return entity_mentions[name].to_numpy(dtype=object)[rows].tolist()

    display, repaired, text, doc_id, parsed_titles, parsed_roles = (
        column(c) for c in ("display", "repaired", "text", "doc_id", "parsed_titles", "parsed_roles")
    )
    # a form's label, key, rule and name parts: those of its node's first mention
    label, key, rule, given, surname = (column(c, order[starts]) for c in ("label", "key", "rule", "given", "surname"))
    titles, has_titles = _split_cells(entity_mentions["mention_titles"], None, order)
    roles, has_roles = _split_cells(entity_mentions["mention_roles"], " | ", order)
    flags = (
        has_titles | np.array([bool(t) for t in parsed_titles], dtype=bool),
        has_roles | np.array([bool(r) for r in parsed_roles], dtype=bool),
        np.array([bool(r) for r in repaired], dtype=bool),
    )
    # per node: does any of its rows carry titles, roles, a repair?
    any_titles, any_roles, any_repaired = (
        np.logical_or.reduceat(f, starts).tolist() if len(starts) else [] for f in flags
    )
    forms: dict[str, Form] = {}
    for g, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        node = nodes[g]
        form = forms[node] = Form(
            node=node,
            type=label[g],
            display=display[s],
            key=key[g],
            rule=rule[g],
            repaired=repaired[s],
            given=tuple(given[g]),
            surname=surname[g],
            city=city_names.get(node_scope(node), ""),
            surfaces=_counts(text, s, e),
            displays=_counts(display, s, e),
            docs=set(doc_id[s:e]),
            n_mentions=e - s,
        )
        if any_repaired[g]:
            for i in range(s, e):
                if repaired[i]:
                    form.repaired_displays.add(display[i])
                    form.repaired = form.repaired or repaired[i]
        if any_titles[g]:  # row by row: each row's parsed titles, then the extractor's
            form.titles.update(*chain.from_iterable(zip(parsed_titles[s:e], titles[s:e], strict=True)))
        if any_roles[g]:
            form.roles.update(*chain.from_iterable(zip(parsed_roles[s:e], roles[s:e], strict=True)))
    return forms


def place_stripped_key(display: str, gaz: Gazetteers) -> tuple[str, str]:
    """("Integrationsrat", "Dortmund") for "Integrationsrat der Stadt Dortmund": the name
    without its closing place and the connecting words, and the place; ("", "") when
    the name does not end in a place."""
    places = _place_words(display, gaz)
    if not places:
        return "", ""
    words = display.split()
    while len(words) > 1 and words[-1] in LEGAL_FORMS:  # "… Oberhausen e.V."
        words.pop()
    place = places[-1]
    if place not in words[-1].replace("-", " ").split():
        return "", ""
    kept = words[:-1]
    is_kreis = any(w.lower() in {"kreis", "kreises"} for w in kept[-2:])
    while kept and kept[-1].lower() in PLACE_CONNECTORS:
        kept.pop()
    if not kept:
        return "", ""
    city = normalize_place(place, gaz)[0]
    return " ".join(kept), (f"Kreis {city}" if is_kreis else city)
