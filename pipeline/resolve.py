"""Stage 3, resolve: mentions → entities (one row per real person, place, organisation).

How mentions become entities:
1. Every PER/LOC/ORG mention is normalised (normalize.py) into a *form node*:
   (type, matching key). Mentions that only make sense inside their document
   (a surname alone, a short organisation name whose long form is in the same
   text) get a document-local node.
2. Nodes are joined with union-find; every join records its rule:
   same key after folding (ü/ue, ı/i), surname → full name in the same
   document, short → long place name ("Mülheim" → "Mülheim an der Ruhr"), short
   → long organisation name in the same document, and fuzzy matches found by
   blocking (Kölner Phonetik, name prefixes) plus rapidfuzz similarity. Fuzzy
   person matches also need evidence from the texts (shared role, shared
   context, shared sentence); without it the pair is only listed as a possible
   duplicate.
3. Each cluster gets a canonical name (correct diacritics over folded or damaged
   forms, full over short, majority over minority; a real tie is "undecided")
   and a stable ID from the ID registry.

Cost grows near-linearly: normalisation is cached per distinct surface, joins
use hash keys, and pairwise comparison only happens inside bounded blocks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz

from pipeline.decisions import Decision, read_decisions
from pipeline.gazetteers import Gazetteers, load_gazetteers
from pipeline.ingest import DOCUMENTS_FILE
from pipeline.io import read_parquet, write_parquet_atomic, write_text_atomic
from pipeline.normalize import (
    fold_din,
    fold_plain,
    initials_compatible,
    is_ascii_folding_of,
    normalize_org,
    normalize_place,
    parse_person,
    person_key,
    phonetic,
)

ENTITIES_FILE = "entities.parquet"
MENTION_ENTITIES_FILE = "mention_entities.parquet"
CANDIDATES_FILE = "possible_duplicates.parquet"
DECISION_STATUS_FILE = "decision_status.parquet"
FACTS_FILE = "person_facts.parquet"
ENTITY_TYPES = ("PER", "LOC", "ORG")
ID_PREFIX = {"PER": "P", "LOC": "L", "ORG": "O"}
REGISTRY_COLUMNS = ["node", "entity_id", "type", "registered"]
CONNECTOR_AFTER_PERSON = re.compile(r"^\s*,?\s*(?:von der|von den|vom|von|bei der|beim|bei|der|des|im|aus der|aus)\s*$")
STOP_ROLE_WORDS = {"und", "der", "die", "das", "des", "in", "im", "für", "von", "vom", "zur", "zum", "an", "am", "bei"}


# --- union-find ----------------------------------------------------------------


def split_tag(node: str) -> str:
    """The decision that split a node off ("PER|split:7" → "7"), "" for ordinary nodes."""
    tail = node.rsplit("|", 1)[-1]
    return tail[6:] if tail.startswith("split:") else ""


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.reasons: dict[str, list[str]] = defaultdict(list)

    def add(self, node: str) -> None:
        self.parent.setdefault(node, node)

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str, reason: str) -> None:
        if split_tag(a) != split_tag(b):
            return  # a reviewer said these mentions are someone else
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return
        if root_b < root_a:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.reasons[root_a].extend(self.reasons.pop(root_b, []))
        self.reasons[root_a].append(reason)


# --- normalised forms ----------------------------------------------------------


@dataclass
class Form:
    """One distinct normalised surface of one type (all its mentions share it)."""

    node: str
    type: str
    display: str  # the first display seen; `displays` counts them all
    key: str
    rule: str = ""
    repaired: str = ""
    given: tuple[str, ...] = ()
    surname: str = ""
    titles: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    surfaces: Counter = field(default_factory=Counter)
    displays: Counter = field(default_factory=Counter)
    repaired_displays: set[str] = field(default_factory=set)
    docs: set[str] = field(default_factory=set)
    n_mentions: int = 0


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


def normalise_mentions(mentions: pd.DataFrame, gaz: Gazetteers) -> pd.DataFrame:
    """PER/LOC/ORG mentions with their normalised columns added; each distinct
    (label, text) is normalised once. The extractor's own `titles`/`roles` are
    kept as `mention_titles`/`mention_roles`."""
    entity_mentions = mentions[mentions["label"].isin(ENTITY_TYPES)].rename(
        columns={"titles": "mention_titles", "roles": "mention_roles"}
    )
    distinct = entity_mentions[["label", "text"]].drop_duplicates()
    normalised = {(r.label, r.text): _normalise(r.label, r.text, gaz) for r in distinct.itertuples(index=False)}
    values = [normalised[pair] for pair in zip(entity_mentions["label"], entity_mentions["text"], strict=True)]
    for column, default in (
        ("display", ""),
        ("key", ""),
        ("rule", ""),
        ("repaired", ""),
        ("given", ()),
        ("surname", ""),
    ):
        entity_mentions[column] = _objects([v.get(column, default) for v in values], entity_mentions.index)
    entity_mentions["parsed_titles"] = _objects([v.get("titles", ()) for v in values], entity_mentions.index)
    entity_mentions["parsed_roles"] = _objects([v.get("roles", ()) for v in values], entity_mentions.index)
    return entity_mentions


def _objects(values: list[Any], index: pd.Index) -> pd.Series:
    """A column of plain Python values: pandas 3 would store text Arrow-backed,
    and the row-by-row passes below read it several times more slowly."""
    return pd.Series(values, index=index, dtype=object)


def assign_nodes(entity_mentions: pd.DataFrame) -> pd.Series:
    """Node per mention: global (type|key), or document-local for forms that only
    resolve inside their document (surname alone; short organisation name whose
    long form is in the same document)."""
    nodes = entity_mentions["label"] + "|" + entity_mentions["key"]
    is_surname = (entity_mentions["label"] == "PER") & (entity_mentions["rule"] == "surname only")
    nodes[is_surname] = (
        "PER|" + entity_mentions.loc[is_surname, "doc_id"] + "|" + entity_mentions.loc[is_surname, "key"]
    )
    orgs = entity_mentions[entity_mentions["label"] == "ORG"]
    for doc_id, group in orgs.groupby("doc_id", sort=False):
        keys = set(group["key"])
        if len(keys) < 2:
            continue
        for index, key in zip(group.index, group["key"], strict=True):
            if any(other != key and other.startswith(key + " ") for other in keys):
                nodes[index] = f"ORG|{doc_id}|{key}"
    return nodes.astype(object)


def build_forms(entity_mentions: pd.DataFrame) -> dict[str, Form]:
    forms: dict[str, Form] = {}
    for row in entity_mentions.itertuples(index=False):
        form = forms.get(row.node)
        if form is None:
            form = forms[row.node] = Form(
                node=row.node,
                type=row.label,
                display=row.display,
                key=row.key,
                rule=row.rule,
                repaired=row.repaired,
                given=tuple(row.given),
                surname=row.surname,
            )
        form.surfaces[row.text] += 1
        form.displays[row.display] += 1
        if row.repaired:
            form.repaired_displays.add(row.display)
        form.docs.add(row.doc_id)
        form.n_mentions += 1
        form.titles.update(row.parsed_titles)
        form.titles.update(t for t in str(row.mention_titles).split() if t)
        form.roles.update(row.parsed_roles)
        form.roles.update(r for r in str(row.mention_roles).split(" | ") if r)
        if row.repaired and not form.repaired:
            form.repaired = row.repaired
    return forms


# --- joining rules ---------------------------------------------------------------


def join_by_folding(forms: dict[str, Form], uf: UnionFind) -> None:
    """Same name under DIN folding (Kühner/Kuehner) or plain folding (Aslı/Asli)."""
    for folding, label in ((fold_din, "DIN 5007 folding (ü=ue, ß=ss)"), (fold_plain, "ASCII folding (ü=u, ı=i)")):
        first: dict[tuple[str, str, str], str] = {}
        for node, form in forms.items():
            scope = node.rsplit("|", 1)[0] if node.count("|") == 2 else form.type
            key = (form.type, scope, folding(form.display))
            if key in first:
                uf.union(first[key], node, f"{label}: {forms[first[key]].display} = {form.display}")
            else:
                first[key] = node


def join_surnames(forms: dict[str, Form], uf: UnionFind) -> None:
    """ "Dudda" (or "OB Dudda") → the one full name with that surname in the same document."""
    full_by_doc: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "PER" and form.given:
            for doc in form.docs:
                full_by_doc[doc].append(form)
    for node, form in forms.items():
        if form.type != "PER" or form.given or node.count("|") != 2:
            continue
        doc = node.split("|")[1]
        surname = fold_plain(form.surname)
        matches = {f.node for f in full_by_doc.get(doc, []) if fold_plain(f.surname) == surname}
        if not matches:
            matches = {f.node for f in full_by_doc.get(doc, []) if phonetic(f.surname) == phonetic(form.surname)}
        if len(matches) == 1:
            target = matches.pop()
            uf.union(target, node, f"surname only → {forms[target].display} in the same document")


def join_short_places(forms: dict[str, Form], uf: UnionFind) -> None:
    """ "Mülheim" → "Mülheim an der Ruhr" when exactly one longer place in the corpus starts with it."""
    long_by_first: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "LOC" and " " in form.display:
            long_by_first[form.display.split()[0]].append(form)
    for form in forms.values():
        if form.type == "LOC" and " " not in form.display and len(long_by_first.get(form.display, [])) == 1:
            target = long_by_first[form.display][0]
            uf.union(target.node, form.node, f"short form of {target.display}")


def join_short_orgs(forms: dict[str, Form], uf: UnionFind) -> None:
    """Document-local short organisation names → their long form in the same document."""
    by_doc: dict[str, list[Form]] = defaultdict(list)
    for form in forms.values():
        if form.type == "ORG":
            for doc in form.docs:
                by_doc[doc].append(form)
    for node, form in forms.items():
        if form.type != "ORG" or node.count("|") != 2:
            continue
        doc = node.split("|")[1]
        longer = [f for f in by_doc[doc] if f.key != form.key and f.key.startswith(form.key + " ")]
        if longer:
            target = min(longer, key=lambda f: len(f.key))
            uf.union(target.node, node, f"short form of {target.display} in the same document")


@dataclass
class Context:
    """What the texts say around each form: for evidence in fuzzy person matches."""

    doc_entities: dict[str, set[str]]
    sentences: dict[str, set[frozenset[str]]]


def build_context(entity_mentions: pd.DataFrame) -> Context:
    doc_entities: dict[str, set[str]] = defaultdict(set)
    for doc, node in zip(entity_mentions["doc_id"], entity_mentions["node"], strict=True):
        doc_entities[doc].add(node)
    sentences: dict[str, set[frozenset[str]]] = defaultdict(set)
    persons = entity_mentions[entity_mentions["label"] == "PER"]
    for node, sentence, text in zip(persons["node"], persons["sentence"], persons["text"], strict=True):
        words = frozenset(w for w in re.findall(r"\w+", sentence.replace(text, " ").lower()) if len(w) > 3)
        if words:
            sentences[node].add(words)
    return Context(doc_entities, sentences)


def _jaccard(a: set | frozenset, b: set | frozenset) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def person_evidence(a: Form, b: Form, context: Context, settings: dict[str, Any]) -> list[str]:
    evidence = []
    role_words_a = {w for role in a.roles for w in re.findall(r"\w+", role) if w.lower() not in STOP_ROLE_WORDS}
    role_words_b = {w for role in b.roles for w in re.findall(r"\w+", role) if w.lower() not in STOP_ROLE_WORDS}
    shared_roles = role_words_a & role_words_b
    if shared_roles:
        evidence.append("shared role words: " + ", ".join(sorted(shared_roles)))
    context_a = set().union(*(context.doc_entities[d] for d in a.docs)) - {a.node, b.node}
    context_b = set().union(*(context.doc_entities[d] for d in b.docs)) - {a.node, b.node}
    overlap = _jaccard(context_a, context_b)
    if overlap >= settings["context_min_jaccard"] and not (a.docs & b.docs):
        evidence.append(f"shared context: {len(context_a & context_b)} entities in common (Jaccard {overlap:.2f})")
    best_sentence = max(
        (_jaccard(x, y) for x in context.sentences.get(a.node, ()) for y in context.sentences.get(b.node, ())),
        default=0.0,
    )
    if best_sentence >= settings["sentence_min_jaccard"]:
        evidence.append(f"same sentence around both (Jaccard {best_sentence:.2f})")
    return evidence


def _blocks(forms: Iterable[Form], keys: Iterable[callable], max_size: int) -> Iterable[list[Form]]:
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


def join_fuzzy_persons(
    forms: dict[str, Form], uf: UnionFind, context: Context, settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """Typo and transliteration variants of full names, with evidence; returns unmerged candidates."""
    full = [f for f in forms.values() if f.type == "PER" and f.given]
    keys = (
        lambda f: phonetic(f.surname) + "|" + fold_plain(f.given[0])[:1],
        lambda f: fold_plain(f.surname)[:3] + "|" + fold_plain(f.given[0])[:1],
    )
    seen: set[tuple[str, str]] = set()
    candidates = []
    for block in _blocks(full, keys, settings["max_block_size"]):
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                pair = (min(a.node, b.node), max(a.node, b.node))
                if pair in seen or uf.find(a.node) == uf.find(b.node):
                    continue
                seen.add(pair)
                if not initials_compatible(a.given, b.given) or len(a.given) != len(b.given):
                    continue
                name_ratio = fuzz.ratio(fold_plain(a.display), fold_plain(b.display))
                surname_ratio = fuzz.ratio(fold_plain(a.surname), fold_plain(b.surname))
                same_sound = phonetic(a.surname) == phonetic(b.surname)
                if name_ratio < settings["person_name_min_ratio"] or not (
                    same_sound or surname_ratio >= settings["person_surname_min_ratio"]
                ):
                    continue
                evidence = person_evidence(a, b, context, settings)
                similarity = f"name ratio {name_ratio:.0f}" + (
                    f", Kölner Phonetik {phonetic(a.surname)}" if same_sound else f", surname ratio {surname_ratio:.0f}"
                )
                if len(evidence) >= settings["person_min_evidence"]:
                    uf.union(a.node, b.node, f"fuzzy: {a.display} ~ {b.display} ({similarity}; {'; '.join(evidence)})")
                else:
                    candidates.append(
                        {
                            "type": "PER",
                            "node_a": a.node,
                            "node_b": b.node,
                            "name_a": a.display,
                            "name_b": b.display,
                            "similarity": similarity,
                            "why_not_merged": "no evidence in the texts beyond the name",
                        }
                    )
    return candidates


def join_fuzzy_places(forms: dict[str, Form], uf: UnionFind, gaz: Gazetteers, settings: dict[str, Any]) -> None:
    """A place the gazetteer does not know, one typo away from one it knows."""
    places = [f for f in forms.values() if f.type == "LOC"]
    keys = (lambda f: phonetic(f.display), lambda f: fold_plain(f.display)[:3])
    for block in _blocks(places, keys, settings["max_block_size"]):
        known = [f for f in block if f.display in gaz.places]
        unknown = [f for f in block if f.display not in gaz.places]
        for u in unknown:
            scored = [(fuzz.ratio(fold_plain(u.display), fold_plain(k.display)), k) for k in known]
            scored = [(s, k) for s, k in scored if s >= settings["place_min_ratio"]]
            if len(scored) == 1 and uf.find(u.node) != uf.find(scored[0][1].node):
                ratio, target = scored[0]
                uf.union(
                    target.node,
                    u.node,
                    f"fuzzy: {u.display} ~ {target.display} (ratio {ratio:.0f}; gazetteer knows only {target.display})",
                )


def join_fuzzy_orgs(forms: dict[str, Form], uf: UnionFind, settings: dict[str, Any]) -> None:
    orgs = [f for f in forms.values() if f.type == "ORG" and f.node.count("|") == 1]
    keys = (lambda f: f.key.split()[0] if f.key else "",)
    for block in _blocks(orgs, keys, settings["max_block_size"]):
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                if uf.find(a.node) == uf.find(b.node):
                    continue
                ratio = fuzz.token_sort_ratio(a.key, b.key)
                if ratio >= settings["org_min_ratio"]:
                    uf.union(a.node, b.node, f"fuzzy: {a.display} ~ {b.display} (token-sort ratio {ratio:.0f})")


# --- canonical names -------------------------------------------------------------


def choose_canonical(members: list[Form], type_: str, gaz: Gazetteers) -> tuple[str, str, str]:
    """(canonical name, status, reason). Status: "confident", "repaired" (the
    suggested form was rebuilt from damaged text) or "undecided" (a real tie)."""
    counts: Counter = Counter()
    repaired_forms: set[str] = set()
    for form in members:
        if type_ == "PER" and not form.given and any(m.given for m in members):
            continue  # surname-only references never name the entity
        counts.update(form.displays)
        repaired_forms |= form.repaired_displays
    displays = list(counts)
    abbreviations = set(gaz.abbreviations)

    def rank(display: str) -> tuple:
        words = display.split()
        return (
            not any(is_ascii_folding_of(display, other) for other in displays),
            not any(w in abbreviations for w in words),
            len(words),
            counts[display],
        )

    ordered = sorted(displays, key=lambda d: (rank(d), d), reverse=True)
    best = ordered[0]
    if len(ordered) > 1 and rank(ordered[1]) == rank(best) and fold_plain(ordered[1]) != fold_plain(best):
        tied = sorted(d for d in ordered if rank(d) == rank(best))
        return (
            tied[0],
            "undecided",
            "tie between " + " / ".join(tied) + f" ({counts[best]} mention(s) each); a reviewer decides",
        )
    if best in repaired_forms:
        return (
            best,
            "repaired",
            "rebuilt from damaged text (Windows-1254 read as Windows-1252, or UTF-8 read as Latin-1)",
        )
    if len(ordered) == 1:
        return best, "confident", "only form"
    runner_up = ordered[1]
    why = []
    top, second = rank(best), rank(runner_up)
    if top[0] != second[0]:
        why.append(f"{runner_up} is an ASCII folding")
    elif top[1] != second[1]:
        why.append(f"{runner_up} is an abbreviation")
    elif top[2] != second[2]:
        why.append("fullest form")
    else:
        why.append(f"majority ({counts[best]} vs {counts[runner_up]})")
    return best, "confident", "; ".join(why)


# --- stable IDs ---------------------------------------------------------------


def load_registry(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=REGISTRY_COLUMNS)
    registry = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = set(REGISTRY_COLUMNS) - set(registry.columns)
    if missing:
        raise ValueError(f"{path}: entity ID registry lacks columns {sorted(missing)}")
    return registry


def assign_ids(
    clusters: dict[str, list[Form]], registry: pd.DataFrame, run_stamp: str
) -> tuple[dict[str, str], pd.DataFrame, dict[str, str]]:
    """Cluster root → entity ID, the updated registry, and old ID → surviving ID
    for entities merged since an earlier run.

    A cluster keeps the oldest ID any of its nodes already has; a new cluster
    gets a hash of its type and smallest node key (the same on any machine)."""
    known = dict(zip(registry["node"], registry["entity_id"], strict=True))
    order = {entity_id: i for i, entity_id in enumerate(dict.fromkeys(registry["entity_id"]))}
    taken = set(order)
    ids: dict[str, str] = {}
    merged: dict[str, str] = {}
    rows = []
    for root in sorted(clusters):
        members = clusters[root]
        previous = sorted({known[f.node] for f in members if f.node in known}, key=lambda i: order[i])
        if previous:
            entity_id = previous[0]
            merged.update({old: entity_id for old in previous[1:]})
        else:
            type_ = members[0].type
            seed = min(f.node for f in members)
            entity_id = f"{ID_PREFIX[type_]}-{hashlib.sha1(seed.encode()).hexdigest()[:10]}"
            suffix = 1
            while entity_id in taken:
                suffix += 1
                entity_id = f"{ID_PREFIX[type_]}-{hashlib.sha1(f'{seed}#{suffix}'.encode()).hexdigest()[:10]}"
        taken.add(entity_id)
        ids[root] = entity_id
        for form in members:
            if known.get(form.node) != entity_id:
                rows.append({"node": form.node, "entity_id": entity_id, "type": form.type, "registered": run_stamp})
    if rows:
        updated = registry[~registry["node"].isin({r["node"] for r in rows})]
        registry = pd.concat([updated, pd.DataFrame(rows, columns=REGISTRY_COLUMNS)], ignore_index=True)
    return ids, registry, merged


# --- the stage -------------------------------------------------------------------


def person_affiliations(
    mentions: pd.DataFrame, entity_of: dict[str, str], canonical: dict[str, str]
) -> dict[tuple[str, str], set[str]]:
    """(person entity, document) → organisations the person is tied to there: inside
    the role apposition, or right after the name ("Prof. Dr. X von der Kolping Hochschule …")."""
    columns = ["doc_id", "mention_id", "label", "text", "start", "end", "sentence", "mention_roles"]
    relevant = mentions.loc[mentions["label"].isin(["PER", "ORG"]), columns]
    by_doc: dict[str, dict[str, list[tuple]]] = defaultdict(lambda: {"PER": [], "ORG": []})
    for record in relevant.itertuples(index=False, name=None):
        by_doc[record[0]][record[2]].append(record)
    affiliations: dict[tuple[str, str], set[str]] = defaultdict(set)
    for doc_id, groups in by_doc.items():
        if not groups["ORG"] or not groups["PER"]:
            continue
        for _, person_id, _, person_text, _, person_end, person_sentence, person_roles in groups["PER"]:
            person_entity = entity_of.get(person_id)
            if person_entity is None:
                continue
            for _, org_id, _, org_text, org_start, _, org_sentence, _ in groups["ORG"]:
                org_entity = entity_of.get(org_id)
                if org_entity is None or org_sentence != person_sentence:
                    continue
                in_role = bool(person_roles) and org_text in person_roles
                gap = org_start - person_end
                between = _gap_text(person_sentence, person_text, org_text) if 0 <= gap <= 30 else None
                right_after = between is not None and CONNECTOR_AFTER_PERSON.match(between) is not None
                if in_role or right_after:
                    affiliations[(person_entity, doc_id)].add(canonical[org_entity])
    return affiliations


def _gap_text(sentence: str, person_text: str, org_text: str) -> str | None:
    """The characters between a person mention and an organisation mention in their sentence."""
    p = sentence.find(person_text)
    o = sentence.find(org_text, p + len(person_text)) if p >= 0 else -1
    if p < 0 or o < 0:
        return None
    return sentence[p + len(person_text) : o]


def _status(decision: Decision, status: str, detail: str) -> dict[str, str]:
    return {
        "decision_id": decision.decision_id,
        "action": decision.action,
        "entity_id": decision.entity_id,
        "status": status,
        "detail": detail,
    }


def cluster(
    entity_mentions: pd.DataFrame, gaz: Gazetteers, settings: dict[str, Any]
) -> tuple[dict[str, Form], UnionFind, list[dict[str, Any]], dict[str, list[Form]]]:
    """Forms, the union-find over them, unmerged candidate pairs, and clusters (root → forms)."""
    forms = build_forms(entity_mentions)
    uf = UnionFind()
    for node in forms:
        uf.add(node)
    join_by_folding(forms, uf)
    join_surnames(forms, uf)
    join_short_places(forms, uf)
    join_short_orgs(forms, uf)
    context = build_context(entity_mentions)
    candidates = join_fuzzy_persons(forms, uf, context, settings)
    join_fuzzy_places(forms, uf, gaz, settings)
    join_fuzzy_orgs(forms, uf, settings)
    clusters: dict[str, list[Form]] = defaultdict(list)
    for node, form in forms.items():
        clusters[uf.find(node)].append(form)
    return forms, uf, candidates, dict(clusters)


def resolve(
    mentions: pd.DataFrame,
    documents: pd.DataFrame,
    registry: pd.DataFrame,
    settings: dict[str, Any],
    run_stamp: str = "",
    gaz: Gazetteers | None = None,
    decisions: Iterable[Decision] = (),
) -> dict[str, Any]:
    """Pure part of the stage: mentions (+ reviewer decisions) → entities, mention
    links, unmerged candidates, the updated ID registry and a status per decision."""
    gaz = gaz or load_gazetteers()
    decisions = list(decisions)
    statuses: list[dict[str, str]] = []
    entity_mentions = normalise_mentions(mentions, gaz)
    entity_mentions["node"] = assign_nodes(entity_mentions)
    forms, uf, candidates, clusters = cluster(entity_mentions, gaz, settings)
    ids, new_registry, merged_ids = assign_ids(clusters, registry, run_stamp)

    splits = [d for d in decisions if d.action == "split"]
    if splits:
        node_entity = {form.node: ids[root] for root, members in clusters.items() for form in members}
        entity_per_mention = entity_mentions["node"].map(node_entity)
        for decision in splits:
            target = merged_ids.get(decision.entity_id, decision.entity_id)
            pairs = set(decision.mention_pairs())
            in_pairs = pd.Series(
                [
                    (doc, text) in pairs
                    for doc, text in zip(entity_mentions["doc_id"], entity_mentions["text"], strict=True)
                ],
                index=entity_mentions.index,
            )
            chosen = (entity_per_mention == target) & in_pairs
            if chosen.any():
                entity_mentions.loc[chosen, "node"] = (
                    entity_mentions.loc[chosen, "label"] + f"|split:{decision.decision_id}"
                )
                statuses.append(_status(decision, "applied", f"{int(chosen.sum())} mention(s) split off"))
            else:
                statuses.append(
                    _status(decision, "no longer matches", f"no mention {sorted(pairs)} in entity {target}")
                )
        forms, uf, candidates, clusters = cluster(entity_mentions, gaz, settings)
        ids, new_registry, merged_ids = assign_ids(clusters, registry, run_stamp)
    registry = new_registry.copy()

    root_of_id = {entity_id: root for root, entity_id in ids.items()}
    for decision in (d for d in decisions if d.action == "merge"):
        keep = merged_ids.get(decision.entity_id, decision.entity_id)
        absorb = merged_ids.get(decision.value, decision.value)
        keep_root, absorb_root = root_of_id.get(keep), root_of_id.get(absorb)
        if keep_root is None or absorb_root is None or clusters[keep_root][0].type != clusters[absorb_root][0].type:
            missing = [e for e, r in ((keep, keep_root), (absorb, absorb_root)) if r is None]
            detail = f"entity {', '.join(missing)} not found" if missing else "entities of different types"
            statuses.append(_status(decision, "no longer matches", detail))
            continue
        if keep_root != absorb_root:
            clusters[keep_root].extend(clusters.pop(absorb_root))
            uf.reasons[keep_root].append(f"merged by reviewer decision {decision.decision_id}")
            uf.reasons[keep_root].extend(uf.reasons.pop(absorb_root, []))
            del ids[absorb_root]
            root_of_id[absorb] = keep_root
            merged_ids[absorb] = keep
            moved = {f.node for f in clusters[keep_root]}
            registry.loc[registry["node"].isin(moved), "entity_id"] = keep
        statuses.append(_status(decision, "applied", f"{absorb} merged into {keep}"))

    overrides: dict[str, Decision] = {}
    for decision in (d for d in decisions if d.action in {"accept", "rename"}):
        target = merged_ids.get(decision.entity_id, decision.entity_id)
        if target in root_of_id and root_of_id[target] in ids:
            overrides[target] = decision
            statuses.append(
                _status(decision, "applied", f"canonical name of {target}: {decision.value or '(suggestion)'}")
            )
        else:
            statuses.append(_status(decision, "no longer matches", f"entity {decision.entity_id} not found"))

    published = dict(zip(documents["doc_id"], documents["published"], strict=True)) if len(documents) else {}
    node_entity = {form.node: ids[root] for root, members in clusters.items() for form in members}
    entity_mentions["entity_id"] = entity_mentions["node"].map(node_entity)
    entity_of = dict(zip(entity_mentions["mention_id"], entity_mentions["entity_id"], strict=True))

    rows = []
    canonical_of: dict[str, str] = {}
    for root, members in clusters.items():
        type_ = members[0].type
        name, status, reason = choose_canonical(members, type_, gaz)
        decision = overrides.get(ids[root])
        if decision is not None:
            suggested = name
            name = decision.value or name
            status = "decided"
            reason = f"reviewer decision {decision.decision_id} ({decision.action}"
            reason += f" by {decision.reviewer}" if decision.reviewer else ""
            reason += f", {decision.decided_at})" if decision.decided_at else ")"
            if suggested != name:
                reason += f"; the texts alone suggest {suggested}"
        canonical_of[ids[root]] = name
        docs = sorted(set().union(*(f.docs for f in members)))
        dates = sorted(d for d in (published.get(doc, "") for doc in docs) if d)
        surfaces: Counter = Counter()
        for form in members:
            surfaces.update(form.surfaces)
        rows.append(
            {
                "entity_id": ids[root],
                "type": type_,
                "canonical_name": name,
                "canonical_status": status,
                "canonical_reason": reason,
                "variants": json.dumps(sorted(surfaces), ensure_ascii=False),
                "normalised_forms": json.dumps(sorted({d for f in members for d in f.displays}), ensure_ascii=False),
                "n_documents": len(docs),
                "n_mentions": sum(f.n_mentions for f in members),
                "documents": json.dumps(docs, ensure_ascii=False),
                "first_seen": dates[0] if dates else "",
                "last_seen": dates[-1] if dates else "",
                "titles": json.dumps(sorted(set().union(*(f.titles for f in members))), ensure_ascii=False),
                "roles": json.dumps(sorted(set().union(*(f.roles for f in members))), ensure_ascii=False),
                "merge_reasons": json.dumps(uf.reasons.get(root, []), ensure_ascii=False),
                "merged_ids": json.dumps(sorted(old for old, new in merged_ids.items() if new == ids[root])),
                "decisions": json.dumps(
                    sorted(
                        {
                            s["decision_id"]
                            for s in statuses
                            if s["status"] == "applied" and merged_ids.get(s["entity_id"], s["entity_id"]) == ids[root]
                        }
                    )
                ),
            }
        )
    entities = pd.DataFrame(rows).sort_values(["type", "canonical_name", "entity_id"], ignore_index=True)

    affiliations_by_doc = person_affiliations(entity_mentions, entity_of, canonical_of)
    affiliations: dict[str, set[str]] = defaultdict(set)
    for (entity_id, _doc), names in affiliations_by_doc.items():
        affiliations[entity_id] |= names
    contacts = mentions[mentions["label"].isin(["EMAIL", "PHONE", "FAX"]) & (mentions["person_mention_id"] != "")]
    emails: dict[str, set[str]] = defaultdict(set)
    phones: dict[str, set[str]] = defaultdict(set)
    for contact in contacts.itertuples(index=False):
        owner = entity_of.get(contact.person_mention_id)
        if owner:
            (emails if contact.label == "EMAIL" else phones)[owner].add(
                contact.text if contact.label != "FAX" else f"Fax {contact.text}"
            )
    entities["affiliations"] = entities["entity_id"].map(
        lambda e: json.dumps(sorted(affiliations.get(e, ())), ensure_ascii=False)
    )
    entities["emails"] = entities["entity_id"].map(lambda e: json.dumps(sorted(emails.get(e, ())), ensure_ascii=False))
    entities["phones"] = entities["entity_id"].map(lambda e: json.dumps(sorted(phones.get(e, ())), ensure_ascii=False))

    links = entity_mentions[
        [
            "mention_id",
            "doc_id",
            "label",
            "text",
            "display",
            "key",
            "rule",
            "repaired",
            "node",
            "entity_id",
            "start",
            "end",
            "source_start",
            "source_end",
            "sentence",
        ]
    ].rename(columns={"label": "type", "display": "normalised", "rule": "normalisation"})
    links = links.sort_values(["doc_id", "start", "mention_id"], ignore_index=True)
    candidates_frame = pd.DataFrame(
        candidates, columns=["type", "node_a", "node_b", "name_a", "name_b", "similarity", "why_not_merged"]
    )
    candidates_frame["entity_a"] = candidates_frame["node_a"].map(node_entity)
    candidates_frame["entity_b"] = candidates_frame["node_b"].map(node_entity)
    facts = [
        {"entity_id": e, "doc_id": d, "fact": "affiliation", "value": v}
        for (e, d), names in affiliations_by_doc.items()
        for v in sorted(names)
    ]
    roles = entity_mentions[(entity_mentions["label"] == "PER") & (entity_mentions["mention_roles"] != "")]
    facts += [
        {"entity_id": e, "doc_id": d, "fact": "role", "value": r}
        for e, d, rs in zip(roles["entity_id"], roles["doc_id"], roles["mention_roles"], strict=True)
        for r in rs.split(" | ")
    ]
    facts_frame = pd.DataFrame(facts, columns=["entity_id", "doc_id", "fact", "value"]).drop_duplicates(
        ignore_index=True
    )
    decision_statuses = pd.DataFrame(statuses, columns=["decision_id", "action", "entity_id", "status", "detail"])
    return {
        "entities": entities,
        "links": links,
        "candidates": candidates_frame,
        "registry": registry,
        "merged_ids": merged_ids,
        "decision_statuses": decision_statuses,
        "facts": facts_frame,
    }


def run_resolve(processed_dir: Path, config: dict[str, Any], run_stamp: str = "") -> dict[str, Any]:
    """Stage entry point: mentions.parquet → entities.parquet, mention_entities.parquet."""
    from pipeline.extract import MENTIONS_FILE

    mentions = read_parquet(processed_dir / MENTIONS_FILE, "extract")
    documents = read_parquet(processed_dir / DOCUMENTS_FILE, "ingest")[["doc_id", "published"]]
    registry_path = Path(config["paths"]["entity_ids_file"])
    registry = load_registry(registry_path)
    decisions, problems = read_decisions(Path(config["paths"]["decisions_file"]))
    result = resolve(mentions, documents, registry, config["resolve"], run_stamp=run_stamp, decisions=decisions)
    invalid = pd.DataFrame(
        [
            {
                "decision_id": "",
                "action": "",
                "entity_id": "",
                "status": "invalid",
                "detail": f"line {p.line}: {p.problem}",
            }
            for p in problems
        ],
        columns=result["decision_statuses"].columns,
    )
    result["decision_statuses"] = pd.concat([result["decision_statuses"], invalid], ignore_index=True)
    write_parquet_atomic(processed_dir / DECISION_STATUS_FILE, result["decision_statuses"])
    write_parquet_atomic(processed_dir / ENTITIES_FILE, result["entities"])
    write_parquet_atomic(processed_dir / MENTION_ENTITIES_FILE, result["links"])
    write_parquet_atomic(processed_dir / CANDIDATES_FILE, result["candidates"])
    write_parquet_atomic(processed_dir / FACTS_FILE, result["facts"])
    write_text_atomic(registry_path, result["registry"].to_csv(index=False))
    return result
