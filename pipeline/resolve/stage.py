"""Stage 3, resolve: mentions → entities (one row per real person, place, organisation).

1. forms: every PER/LOC/ORG mention is normalised into a form node (forms.py);
2. pairs: blocking and rules give one table of scored candidate pairs (pairs.py);
3. clustering reads only that table and the reviewers' judgements (cluster.py);
4. each cluster gets a canonical name (canonical.py) and a stable ID (ids.py);
5. per-entity judgements (rename, retype, ignore) are applied, and every decision
   gets a status: applied, superseded, stale (with its reason) or invalid.
The candidate pairs that were not merged are the possible duplicates a reviewer sees.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from pipeline.gazetteers import Gazetteers, load_gazetteers
from pipeline.ingest import DOCUMENTS_FILE
from pipeline.io import code_key, is_in, read_parquet, write_parquet_atomic, write_text_atomic
from pipeline.messages import say
from pipeline.resolve.canonical import choose_canonical
from pipeline.resolve.cluster import CannotLink, ConstrainedUnionFind, MustLink, cluster_nodes
from pipeline.resolve.forms import (
    Form,
    Mapper,
    Normalised,
    assign_nodes,
    build_forms,
    document_cities,
    normalise_mentions,
    normalised_from_table,
    normalised_table,
    scoped_node,
)
from pipeline.resolve.frames import records_frame
from pipeline.resolve.ids import Lineage, assign_ids, load_registry, registry_lock, updated_registry
from pipeline.resolve.pairs import Pair, pairs_frame, score_pairs
from pipeline.review.decisions import Decision, judgements_in_force, read_decisions
from pipeline.stage_files import MENTIONS_FILE

ENTITIES_FILE = "entities.parquet"
MENTION_ENTITIES_FILE = "mention_entities.parquet"
PAIRS_FILE = "candidate_pairs.parquet"
CANDIDATES_FILE = "possible_duplicates.parquet"
DECISION_STATUS_FILE = "decision_status.parquet"
FACTS_FILE = "person_facts.parquet"
# Names normalised by the last run, reused while the normaliser is unchanged.
NORMALISED_FILE = "normalised_names.parquet"
STATUS_COLUMNS = ["decision_id", "action", "entity_id", "value", "status", "detail", "line"]
CANDIDATE_COLUMNS = [
    "pair_id",
    "status",
    "type",
    "entity_a",
    "entity_b",
    "name_a",
    "name_b",
    "score",
    "rules",
    "evidence",
    "against",
    "forms",
    "decision",
]
ENTITY_COLUMNS = [
    "entity_id",
    "type",
    "canonical_name",
    "canonical_status",
    "canonical_reason",
    "variants",
    "normalised_forms",
    "n_documents",
    "n_mentions",
    "documents",
    "first_seen",
    "last_seen",
    "titles",
    "roles",
    "merge_reasons",
    "merged_ids",
    "decisions",
    "affiliations",
    "emails",
    "phones",
]
T = TypeVar("T")
CONNECTOR_AFTER_PERSON = re.compile(r"^\s*,?\s*(?:von der|von den|vom|von|bei der|beim|bei|der|des|im|aus der|aus)\s*$")


def pair_id(entity_a: str, entity_b: str) -> str:
    """Stable ID of a pair of entities (the same in every run while both IDs live)."""
    a, b = sorted((entity_a, entity_b))
    return "K-" + hashlib.sha1(f"{a}|{b}".encode()).hexdigest()[:10]


@dataclass
class Clustering:
    forms: dict[str, Form]
    pairs: list[Pair]
    unmerged: list[Pair]
    uf: ConstrainedUnionFind
    clusters: dict[str, list[Form]]
    ids: dict[str, str]  # cluster root → ID
    aliases: dict[str, str]  # absorbed ID → ID of its cluster now
    refused: dict[str, str]  # decision → why its must-link could not be kept
    stale: dict[str, str]  # decision → why it cannot apply now

    def current_id(self, entity_id: str, lineage: Lineage) -> str | None:
        """The ID that stands for `entity_id` now (itself, or the entity that absorbed it)."""
        if entity_id in self.aliases:
            return self.aliases[entity_id]
        if entity_id in set(self.ids.values()):
            return entity_id
        present = Counter(self.ids[self.uf.find(n)] for n in lineage.nodes_of_id.get(entity_id, ()) if n in self.forms)
        return present.most_common(1)[0][0] if present else None


def _why_missing(entity_id: str, lineage: Lineage) -> str:
    if lineage.knows(entity_id):
        return (
            f"entity {entity_id} has no mentions in the current documents (the decision applies again when they return)"
        )
    return f"no entity {entity_id} is known (not in the ID registry)"


def cluster_forms(
    entity_mentions: pd.DataFrame,
    cities: dict[str, str],
    city_names: dict[str, str],
    lineage: Lineage,
    pair_judgements: list[Decision],
    gaz: Gazetteers,
    settings: dict[str, Any],
    previous: dict[str, str] | None = None,
) -> Clustering:
    forms = build_forms(entity_mentions, city_names)
    pairs = score_pairs(forms, entity_mentions, cities, gaz, settings)
    stale: dict[str, str] = {}
    must: list[MustLink] = []
    cannot: list[CannotLink] = []
    for decision in reversed(pair_judgements):  # newest first
        if decision.entity_id == decision.value:
            stale[decision.decision_id] = f"{decision.action} of {decision.entity_id} with itself"
            continue
        nodes = {}
        for entity_id in (decision.entity_id, decision.value):
            nodes[entity_id] = [n for n in lineage.own_nodes(entity_id) if n in forms]
            if not nodes[entity_id]:
                stale[decision.decision_id] = _why_missing(entity_id, lineage)
        if decision.decision_id in stale or decision.action == "unsure":
            continue
        side_a, side_b = nodes[decision.entity_id], nodes[decision.value]
        type_a, type_b = forms[side_a[0]].type, forms[side_b[0]].type
        if decision.action == "same" and type_a != type_b:
            stale[decision.decision_id] = (
                f"{decision.entity_id} is a {type_a}, {decision.value} a {type_b}: retype one of them first"
            )
            continue
        if decision.action == "same":
            must.append(MustLink(decision.decision_id, sorted(side_a) + sorted(side_b)))
        else:
            cannot.append(CannotLink(decision.decision_id, set(side_a), set(side_b)))
    uf, refused, unmerged = cluster_nodes(forms, pairs, must, cannot, settings["merge_min_score"])
    clusters: dict[str, list[Form]] = defaultdict(list)
    for node, form in forms.items():
        clusters[uf.find(node)].append(form)
    demoted = {d.value for d in pair_judgements if d.action == "same" and d.decision_id not in stale}
    ids, aliases = assign_ids(dict(clusters), lineage, demoted, previous)
    return Clustering(forms, pairs, unmerged, uf, dict(clusters), ids, aliases, refused, stale)


def _status(decision: Decision, status: str, detail: str) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "action": decision.action,
        "entity_id": decision.entity_id,
        "value": decision.value,
        "status": status,
        "detail": detail,
        "line": decision.line,
    }


def apply_splits(entity_mentions: pd.DataFrame, splits: list[Decision], lineage: Lineage) -> list[dict[str, Any]]:
    """Mentions a reviewer split off get a node of their own (`TYPE|split:ID|key`).

    A split names mentions (document and text) of an entity; they are looked for among
    the forms that were ever part of it (the registry), so the outcome never depends on
    how this run's evidence clusters."""
    statuses: list[dict[str, Any]] = []
    if not splits:
        return statuses
    keys = list(zip(entity_mentions["doc_id"], entity_mentions["text"], strict=True))
    for decision in splits:
        nodes = set(lineage.nodes_of_id.get(decision.entity_id, ()))
        if not nodes:
            statuses.append(_status(decision, "stale", _why_missing(decision.entity_id, lineage)))
            continue
        wanted = set(decision.mention_pairs())
        chosen = entity_mentions["node"].isin(nodes) & pd.Series(
            [k in wanted for k in keys], index=entity_mentions.index
        )
        if not chosen.any():
            detail = f"no mention {'; '.join(f'{d}: {t}' for d, t in sorted(wanted))} in entity {decision.entity_id}"
            statuses.append(_status(decision, "stale", detail))
            continue
        for index in entity_mentions.index[chosen]:
            label, key = entity_mentions.at[index, "label"], entity_mentions.at[index, "key"]
            entity_mentions.at[index, "node"] = scoped_node(label, f"split:{decision.decision_id}", key)
        statuses.append(_status(decision, "applied", f"{int(chosen.sum())} mention(s) split off {decision.entity_id}"))
    return statuses


def person_affiliations(
    mentions: pd.DataFrame, entity_of: dict[str, str], canonical: dict[str, str]
) -> dict[tuple[str, str], set[str]]:
    """(person entity, document) → organisations the person is tied to there: inside
    the role apposition, or right after the name ("Prof. Dr. X von der Kolping Hochschule …")."""
    columns = ["doc_id", "mention_id", "label", "text", "start", "end", "sentence", "mention_roles"]
    relevant = mentions.loc[mentions["label"].isin(["PER", "ORG"]), columns]
    # only sentences with both a person and an organisation can tie them (found at once)
    doc_codes = pd.factorize(relevant["doc_id"].to_numpy(dtype=object), use_na_sentinel=False)[0]
    sentence_codes = pd.factorize(relevant["sentence"].to_numpy(dtype=object), use_na_sentinel=False)[0]
    codes = pd.factorize(doc_codes.astype(np.int64) * (int(sentence_codes.max(initial=0)) + 1) + sentence_codes)[0]
    is_person = (relevant["label"] == "PER").to_numpy()
    with_person = np.bincount(codes[is_person], minlength=codes.max(initial=-1) + 1) > 0
    with_org = np.bincount(codes[~is_person], minlength=codes.max(initial=-1) + 1) > 0
    relevant = relevant[(with_person & with_org)[codes]]
    # grouped by sentence, not document: one huge document must not cost persons × organisations
    by_sentence: dict[tuple[str, str], dict[str, list[tuple]]] = defaultdict(lambda: {"PER": [], "ORG": []})
    for record in relevant.itertuples(index=False, name=None):
        by_sentence[(record[0], record[6])][record[2]].append(record)
    affiliations: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (doc_id, _), groups in by_sentence.items():
        if not groups["ORG"] or not groups["PER"]:
            continue
        for _, person_id, _, person_text, _, person_end, person_sentence, person_roles in groups["PER"]:
            person_entity = entity_of.get(person_id)
            if person_entity is None:
                continue
            for _, org_id, _, org_text, org_start, _, _, _ in groups["ORG"]:
                org_entity = entity_of.get(org_id)
                if org_entity is None:
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


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps builds one per call


def _json_list(values: list[Any]) -> str:
    """`values` as `_JSON` writes them; lists of strings (all of them in practice) are
    joined directly, several times faster per cell."""
    try:
        return "[" + ", ".join(map(encode_basestring, values)) + "]"
    except TypeError:  # not all strings
        return _JSON.encode(values)


def _json(values: Iterable[Any]) -> str:
    return _json_list(sorted(values))


def _decided_reason(decision: Decision, suggested: str, name: str) -> str:
    reason = f"reviewer decision {decision.decision_id} ({decision.action}"
    reason += f" by {decision.reviewer}" if decision.reviewer else ""
    reason += f", {decision.decided_at})" if decision.decided_at else ")"
    if suggested != name:
        reason += f"; the texts alone suggest {suggested}"
    return reason


def entity_judgements(
    decisions: list[Decision], state: Clustering, lineage: Lineage
) -> tuple[dict[str, dict[str, Decision]], list[dict[str, Any]]]:
    """Current ID → {"name" | "type" | "ignore": decision}, and a status per decision.
    Where two decisions on entities that are one now disagree, the later one counts."""
    by_entity: dict[str, dict[str, Decision]] = defaultdict(dict)
    statuses = []
    for decision in decisions:
        target = state.current_id(decision.entity_id, lineage)
        if target is None:
            statuses.append(_status(decision, "stale", _why_missing(decision.entity_id, lineage)))
            continue
        slot = {"retype": "type", "ignore": "ignore"}.get(decision.action, "name")
        earlier = by_entity[target].get(slot)
        if earlier is not None:
            statuses[:] = [
                _status(
                    earlier,
                    "superseded",
                    f"{earlier.entity_id} is now part of {target}; decision {decision.decision_id} counts",
                )
                if s["decision_id"] == earlier.decision_id
                else s
                for s in statuses
            ]
        by_entity[target][slot] = decision
        where = f"{decision.entity_id} (now part of {target})" if target != decision.entity_id else target
        detail = {
            "name": f"canonical name of {where}: {decision.value or '(the suggestion)'}",
            "type": f"{where} is a {decision.value}",
            "ignore": f"{where} is not listed (not an entity)",
        }[slot]
        statuses.append(_status(decision, "applied", detail))
    return by_entity, statuses


def candidate_table(
    state: Clustering, entity_rows: dict[str, dict[str, Any]], pair_judgements: list[Decision], lineage: Lineage
) -> pd.DataFrame:
    """Possible duplicates, one row per pair of entities: the unmerged candidate pairs
    (open, or unsure) and the pairs a reviewer judged, ranked by score."""
    grouped: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for pair in state.unmerged:
        a, b = state.ids[state.uf.find(pair.node_a)], state.ids[state.uf.find(pair.node_b)]
        if a != b and a in entity_rows and b in entity_rows:
            grouped[tuple(sorted((a, b)))].append(pair)
    judged: dict[tuple[str, str], Decision] = {}
    for decision in pair_judgements:
        if decision.decision_id in state.stale or decision.decision_id in state.refused:
            continue
        a, b = state.current_id(decision.entity_id, lineage), state.current_id(decision.value, lineage)
        if a and b and a in entity_rows and b in entity_rows:
            judged[tuple(sorted((a, b)))] = decision
            grouped.setdefault(tuple(sorted((a, b))), [])
    rows = []
    for (a, b), pairs in grouped.items():
        decision = judged.get((a, b))
        if decision is not None and decision.action == "same" and a != b:
            continue  # a must-link that holds leaves one entity, not a pair
        status = "open" if decision is None else "unsure" if decision.action == "unsure" else "decided"
        pairs = sorted(pairs, key=lambda p: (-p.score, p.node_a, p.node_b))
        forms = sorted({state.forms[p.node_a].display + " ~ " + state.forms[p.node_b].display for p in pairs})
        rows.append(
            {
                "pair_id": pair_id(a, b),
                "status": status,
                "type": entity_rows[a]["type"],
                "entity_a": a,
                "entity_b": b,
                "name_a": entity_rows[a]["canonical_name"],
                "name_b": entity_rows[b]["canonical_name"],
                "score": max((p.score for p in pairs), default=0.0),
                "rules": " | ".join(sorted({p.rule for p in pairs})),
                "evidence": " | ".join(dict.fromkeys(e for p in pairs for e in p.evidence)),
                "against": " | ".join(dict.fromkeys(e for p in pairs for e in p.against)),
                "forms": " | ".join(forms),
                "decision": decision.decision_id if decision is not None else "",
            }
        )
    order = {"open": 0, "unsure": 1, "decided": 2}
    rows.sort(key=lambda r: (order[r["status"]], -r["score"], r["pair_id"]))
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def _without_cycle_collector(func: Callable[..., T]) -> Callable[..., T]:
    """Runs `func` with Python's cyclic garbage collector paused: resolve builds
    millions of small containers that live until it returns, and the collector would
    walk all of them again and again (about a third of the time at 100k mentions).
    Nothing here builds reference cycles; plain reference counting frees the rest."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper


@_without_cycle_collector
def resolve(
    mentions: pd.DataFrame,
    documents: pd.DataFrame,
    registry: pd.DataFrame,
    settings: dict[str, Any],
    run_stamp: str = "",
    gaz: Gazetteers | None = None,
    decisions: Iterable[Decision] = (),
    previous: dict[str, str] | None = None,
    normalised: Normalised | None = None,
    mapper: Mapper | None = None,
) -> dict[str, Any]:
    """Pure part of the stage: mentions (+ reviewer decisions) → entities, mention
    links, the candidate-pair table, possible duplicates, the updated ID registry and a
    status per decision. `previous` (node → entity ID of the last run) keeps every
    entity that is still there under the ID it had; `normalised` holds names the same
    normaliser has normalised before (returned updated as "normalised"); `mapper` runs
    the per-name work as tasks of another engine (see normalise_mentions)."""
    gaz = gaz or load_gazetteers()
    # plain Python strings: pandas 3's Arrow strings are slow to walk row by row
    mentions = mentions.astype({c: object for c, t in mentions.dtypes.items() if isinstance(t, pd.StringDtype)})
    decisions = list(decisions)
    lineage = Lineage.of(registry)
    judgements = judgements_in_force(decisions)
    statuses: list[dict[str, Any]] = []
    entity_mentions, normalised = normalise_mentions(mentions, gaz, normalised, mapper)
    cities = document_cities(documents, entity_mentions, gaz)
    entity_mentions["node"], city_names = assign_nodes(entity_mentions, cities, gaz)
    statuses += apply_splits(entity_mentions, judgements.splits, lineage)
    state = cluster_forms(entity_mentions, cities, city_names, lineage, judgements.pairs, gaz, settings, previous)
    for decision in judgements.pairs:
        if decision.decision_id in state.stale:
            statuses.append(_status(decision, "stale", state.stale[decision.decision_id]))
        elif decision.decision_id in state.refused:
            statuses.append(_status(decision, "stale", state.refused[decision.decision_id]))
        else:
            a, b = state.current_id(decision.entity_id, lineage), state.current_id(decision.value, lineage)
            detail = {
                "same": f"{decision.entity_id} and {decision.value} are one entity ({a})",
                "not-same": f"{decision.entity_id} and {decision.value} are kept apart ({a}, {b})",
                "unsure": f"{decision.entity_id} / {decision.value} stays listed as unsure",
            }[decision.action]
            statuses.append(_status(decision, "applied", detail))
    per_entity, entity_statuses = entity_judgements(judgements.entities, state, lineage)
    statuses += entity_statuses
    by_id = {d.decision_id: d for d in decisions}
    for decision_id, why in judgements.superseded.items():
        statuses.append(_status(by_id[decision_id], "retracted" if "retract" in why else "superseded", why))

    ignored = {entity_id for entity_id, slots in per_entity.items() if "ignore" in slots}
    node_entity = {node: state.ids[state.uf.find(node)] for node in state.forms}
    entity_mentions["entity_id"] = entity_mentions["node"].map(node_entity)
    published = dict(zip(documents["doc_id"], documents["published"], strict=True)) if len(documents) else {}
    applied_by_entity: dict[str, set[str]] = defaultdict(set)
    for status in statuses:
        if status["status"] == "applied":
            for entity_id in (status["entity_id"], status["value"]):
                current = state.current_id(entity_id, lineage) if entity_id else None
                if current:
                    applied_by_entity[current].add(status["decision_id"])
    absorbed: dict[str, list[str]] = defaultdict(list)  # ID → the IDs it absorbed
    for old, new in state.aliases.items():
        absorbed[new].append(old)
    rows: dict[str, dict[str, Any]] = {}
    for root, members in state.clusters.items():
        entity_id = state.ids[root]
        if entity_id in ignored:
            continue
        slots = per_entity.get(entity_id, {})
        type_ = slots["type"].value if "type" in slots else members[0].type
        name, status, reason = choose_canonical(members, members[0].type, gaz)
        if "name" in slots:
            decision = slots["name"]
            suggested, name = name, slots["name"].value or name
            status, reason = "decided", _decided_reason(decision, suggested, name)
        elif "type" in slots:
            reason += f"; type set by reviewer decision {slots['type'].decision_id}"
        if len(members) == 1:  # most entities: one form, whose own counts and sets serve
            (form,) = members
            docs, surfaces, displays = sorted(form.docs), form.surfaces, form.displays
            titles, roles, n_mentions = form.titles, form.roles, form.n_mentions
        else:
            docs = sorted(set().union(*(f.docs for f in members)))
            surfaces = Counter()
            for form in members:
                surfaces.update(form.surfaces)
            displays = {d for f in members for d in f.displays}
            titles, roles = set().union(*(f.titles for f in members)), set().union(*(f.roles for f in members))
            n_mentions = sum(f.n_mentions for f in members)
        dates = [d for d in (published.get(doc, "") for doc in docs) if d]
        rows[entity_id] = {
            "entity_id": entity_id,
            "type": type_,
            "canonical_name": name,
            "canonical_status": status,
            "canonical_reason": reason,
            "variants": _json(surfaces),
            "normalised_forms": _json(displays),
            "n_documents": len(docs),
            "n_mentions": n_mentions,
            "documents": _json_list(docs),
            "first_seen": min(dates) if dates else "",
            "last_seen": max(dates) if dates else "",
            "titles": _json(titles),
            "roles": _json(roles),
            "merge_reasons": _json_list(state.uf.reasons.get(root, [])),
            "merged_ids": _json(absorbed.get(entity_id, ())),
            "decisions": _json(applied_by_entity.get(entity_id, ())),
        }
    entities = records_frame(list(rows.values()), ENTITY_COLUMNS[:-3]).sort_values(
        ["type", "canonical_name", "entity_id"], ignore_index=True
    )
    entity_mentions = entity_mentions[~entity_mentions["entity_id"].isin(ignored)]
    entity_of = dict(zip(entity_mentions["mention_id"].tolist(), entity_mentions["entity_id"].tolist(), strict=True))
    canonical_of = {entity_id: row["canonical_name"] for entity_id, row in rows.items()}
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
    for column, values in (("affiliations", affiliations), ("emails", emails), ("phones", phones)):
        cells = [_json(values[e]) if e in values else "[]" for e in entities["entity_id"].to_numpy(dtype=object)]
        entities[column] = pd.Series(cells, index=entities.index)

    types = {entity_id: row["type"] for entity_id, row in rows.items()}
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
    links["type"] = links["entity_id"].map(types)
    links = links.sort_values(["doc_id", "start", "mention_id"], ignore_index=True)
    pair_table = pairs_frame(state.pairs)
    pair_table["entity_a"] = pair_table["node_a"].map(node_entity)
    pair_table["entity_b"] = pair_table["node_b"].map(node_entity)
    pair_table["merged"] = pair_table["entity_a"] == pair_table["entity_b"]
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
    statuses.sort(key=lambda s: (s["line"], s["decision_id"]))
    return {
        "entities": entities,
        "links": links,
        "pairs": pair_table,
        "candidates": candidate_table(state, rows, judgements.pairs, lineage),
        "registry": updated_registry(registry, state.clusters, state.ids, lineage, run_stamp),
        "merged_ids": {old: new for old, new in state.aliases.items() if new in rows},
        "decision_statuses": pd.DataFrame(statuses, columns=STATUS_COLUMNS),
        "facts": facts_frame,
        "normalised": normalised,
    }


def previous_assignment(links_file: Path, registry: pd.DataFrame) -> dict[str, str]:
    """node → entity ID of the last run, where it used this registry (else nothing)."""
    if not links_file.is_file():
        return {}
    links = pd.read_parquet(links_file, columns=["node", "entity_id"])
    known = set(registry["entity_id"].tolist())
    links = links[is_in(links["entity_id"], known)]
    # lists, not the Arrow columns: walking those value by value is several times slower
    return dict(zip(links["node"].tolist(), links["entity_id"].tolist(), strict=True))


def normaliser_key() -> str:
    """Identity of the name normaliser: its code and word lists."""
    return code_key([], ["normalize.py", "gazetteers.py", "resolve/forms.py"], ["resources"])


def _known_names(path: Path, normaliser: str) -> Normalised:
    """The last run's normalised names, if the same normaliser made them (else none)."""
    if not path.is_file():
        return {}
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError):
        return {}  # unreadable leftovers: normalise everything again
    if table.empty or set(table["normaliser"]) != {normaliser}:
        return {}
    return normalised_from_table(table)


def run_resolve(
    processed_dir: Path,
    config: dict[str, Any],
    run_stamp: str = "",
    mapper: Mapper | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Stage entry point: mentions.parquet (+ decisions, ID registry) → entities and pair
    tables. The ID registry is read and written under its own lock (registry_lock)."""
    mentions = read_parquet(processed_dir / MENTIONS_FILE, "extract")
    # not the texts: resolve needs where a document comes from and when it appeared
    documents = read_parquet(processed_dir / DOCUMENTS_FILE, "ingest", ["doc_id", "published", "issuer", "issuer_city"])
    registry_path = Path(config["paths"]["entity_ids_file"])
    with registry_lock(registry_path, on_wait=lambda: log(say("waiting_for_registry", file=registry_path))):
        registry = load_registry(registry_path)
        decisions, problems = read_decisions(Path(config["paths"]["decisions_file"]))
        normaliser = normaliser_key()
        result = resolve(
            mentions,
            documents,
            registry,
            config["resolve"],
            run_stamp=run_stamp,
            decisions=decisions,
            previous=previous_assignment(processed_dir / MENTION_ENTITIES_FILE, registry),
            normalised=_known_names(processed_dir / NORMALISED_FILE, normaliser),
            mapper=mapper,
        )
        invalid = pd.DataFrame(
            [
                {
                    "decision_id": p.decision_id,
                    "action": "",
                    "entity_id": "",
                    "value": "",
                    "status": "invalid",
                    "detail": f"line {p.line}: {p.problem}",
                    "line": p.line,
                }
                for p in problems
            ],
            columns=STATUS_COLUMNS,
        )
        statuses = (
            pd.concat([result["decision_statuses"], invalid], ignore_index=True)
            if problems
            else result["decision_statuses"]
        )
        result["decision_statuses"] = statuses.sort_values(["line", "decision_id"], kind="stable", ignore_index=True)
        write_parquet_atomic(processed_dir / DECISION_STATUS_FILE, result["decision_statuses"])
        write_parquet_atomic(processed_dir / ENTITIES_FILE, result["entities"])
        write_parquet_atomic(processed_dir / MENTION_ENTITIES_FILE, result["links"])
        write_parquet_atomic(processed_dir / PAIRS_FILE, result["pairs"])
        write_parquet_atomic(processed_dir / CANDIDATES_FILE, result["candidates"])
        write_parquet_atomic(processed_dir / FACTS_FILE, result["facts"])
        write_parquet_atomic(
            processed_dir / NORMALISED_FILE, normalised_table(result["normalised"]).assign(normaliser=normaliser)
        )
        if not registry_path.is_file() or len(result["registry"]) != len(registry):
            write_text_atomic(registry_path, result["registry"].to_csv(index=False))
        return result
