"""Stable entity IDs with a lineage that never expires.

`data/entity_ids.csv` (the registry) remembers which ID each form node got when it
was first seen, and every entity it has been part of since (a row per form and
ID); its rows are only ever appended, never rewritten. Every run gives
each cluster the oldest ID among its nodes' IDs, with rules that keep IDs unique
and stable whatever happens to the clusters:
- an entity that is unchanged since the previous run (the same forms; the last
  mention table says which nodes had which ID) keeps its ID; otherwise an ID goes
  to the cluster holding the nodes it was born with (registered in the run that
  created it), so a cluster that only borrowed nodes of it later does not take it;
- an ID whose birth nodes sit in a cluster that already took an older ID is an
  alias of that cluster (listed in `merged_ids`): decisions on it still apply
  there. When the evidence that merged them goes away, the clusters part and
  each takes its own ID back.
A new cluster gets a hash of its type and smallest form key, never of a file name,
so the same corpus gets the same IDs on any machine and in any folder.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.io import waiting_lock
from pipeline.resolve.forms import Form
from pipeline.resolve.frames import records_frame

REGISTRY_COLUMNS = ["node", "entity_id", "type", "registered", "run"]
ID_PREFIX = {"PER": "P", "LOC": "L", "ORG": "O"}


def registry_lock(path: Path, on_wait: Callable[[], None] = lambda: None) -> contextlib.AbstractContextManager[None]:
    """Held from reading the ID registry to writing it: several processed folders (each
    with its own run lock) may share one registry, and a run that read it before another
    wrote it would drop that run's new IDs. The lock file is hidden (ingest never lists it)
    and beside the registry itself, where that is a link to a shared drive."""
    target = path.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    return waiting_lock(target.parent / f".{target.name}.lock", on_wait)


def load_registry(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=REGISTRY_COLUMNS)
    registry = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "run" not in registry.columns:  # registries of earlier versions: one generation
        registry["run"] = "0"
    missing = set(REGISTRY_COLUMNS) - set(registry.columns)
    if missing:
        raise ValueError(f"{path}: entity ID registry lacks columns {sorted(missing)}")
    return registry[REGISTRY_COLUMNS]


@dataclass
class Lineage:
    """What the registry knows: each node's ID, the order IDs were made in, their birth
    nodes (registered in the run, `run` counter, that made the ID), the last run."""

    id_of_node: dict[str, str]
    age: dict[str, int]
    nodes_of_id: dict[str, list[str]]
    birth: dict[str, set[str]]
    last_run: int

    @classmethod
    def of(cls, registry: pd.DataFrame) -> Lineage:
        id_of_node: dict[str, str] = {}
        age: dict[str, int] = {}
        nodes_of_id: dict[str, list[str]] = defaultdict(list)
        birth: dict[str, set[str]] = defaultdict(set)
        born_in: dict[str, str] = {}
        columns = (registry[c].tolist() for c in ("node", "entity_id", "run"))
        for node, entity_id, registered in zip(*columns, strict=True):
            id_of_node.setdefault(node, entity_id)  # a node's first ID; later rows are entities it joined since
            age.setdefault(entity_id, len(age))
            if node in nodes_of_id[entity_id]:
                continue
            nodes_of_id[entity_id].append(node)
            if born_in.setdefault(entity_id, registered) == registered:
                birth[entity_id].add(node)
        last_run = max((int(r) for r in registry["run"].tolist() if str(r).isdigit()), default=0)
        return cls(id_of_node, age, dict(nodes_of_id), dict(birth), last_run)

    def knows(self, entity_id: str) -> bool:
        return entity_id in self.age

    def own_nodes(self, entity_id: str) -> list[str]:
        """The forms an ID was first given to (else every form that was ever part of it):
        what a judgement on that ID means, however the entity has grown since."""
        nodes = self.nodes_of_id.get(entity_id, [])
        return [n for n in nodes if self.id_of_node[n] == entity_id] or list(nodes)


def _portable(node: str) -> str:
    """The node without its document (a surname alone keys on the name, not the file)."""
    parts = node.split("|")
    if len(parts) == 3 and parts[1].startswith("doc:"):
        return f"{parts[0]}|~|{parts[2]}"
    return node


def new_id(members: list[Form], taken: set[str]) -> str:
    corpus_wide = [f.node for f in members if f.scope == ""]
    seed = min(corpus_wide) if corpus_wide else min(_portable(f.node) for f in members)
    prefix = ID_PREFIX[members[0].type]
    entity_id = f"{prefix}-{hashlib.sha1(seed.encode()).hexdigest()[:10]}"
    suffix = 1
    while entity_id in taken:
        suffix += 1
        entity_id = f"{prefix}-{hashlib.sha1(f'{seed}#{suffix}'.encode()).hexdigest()[:10]}"
    return entity_id


def assign_ids(
    clusters: dict[str, list[Form]],
    lineage: Lineage,
    demoted: set[str] = frozenset(),
    previous: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Cluster root → ID, and alias ID → the ID of the cluster that absorbed it.

    Each ID, oldest first, goes to the cluster that is exactly the entity it named in
    the previous run (`previous`: node → ID of the last run's mention table), else to
    the cluster holding the nodes it was born with, else to the one that held most of
    its nodes last time, else to the one with most of its nodes; a cluster takes one ID. `demoted` IDs (the absorbed side of a reviewer's merge)
    are handed out after all others, so the ID the reviewer kept survives."""
    previous = previous or {}
    root_of_node = {form.node: root for root, members in clusters.items() for form in members}
    held_by: dict[str, Counter] = defaultdict(Counter)
    previous_nodes: dict[str, set[str]] = defaultdict(set)
    for node, entity_id in previous.items():
        previous_nodes[entity_id].add(node)
        if node in root_of_node:
            held_by[entity_id][root_of_node[node]] += 1
    unchanged = {  # ID → the cluster that is exactly the entity it named in the previous run
        entity_id: root_of_node[next(iter(nodes))]
        for entity_id, nodes in previous_nodes.items()
        if next(iter(nodes)) in root_of_node and {f.node for f in clusters[root_of_node[next(iter(nodes))]]} == nodes
    }
    assigned: dict[str, str] = {}
    aliases: dict[str, str] = {}
    pending: list[str] = []
    order = sorted(lineage.age, key=lambda i: (i in demoted, lineage.age[i]))
    for entity_id in order:  # first: entities unchanged since the previous run keep their IDs
        root = unchanged.get(entity_id)
        if root is not None and root not in assigned and entity_id not in demoted:
            assigned[root] = entity_id
    kept = set(assigned.values())
    for entity_id in (i for i in order if i not in kept):
        present = Counter(root_of_node[n] for n in lineage.own_nodes(entity_id) if n in root_of_node)
        held = held_by.get(entity_id, Counter())
        if not present and not held:
            continue
        born_here = {root_of_node[n] for n in lineage.birth[entity_id] if n in root_of_node}
        claims = born_here or held or present
        candidates = [r for r in claims if r not in assigned]
        if candidates:
            winner = min(candidates, key=lambda r: (-held[r], r not in born_here, -present[r], r))
            assigned[winner] = entity_id
        else:
            pending.append(entity_id)
    taken = set(lineage.age)
    ids = {}
    for root in sorted(clusters):
        entity_id = assigned.get(root) or new_id(clusters[root], taken)
        taken.add(entity_id)
        ids[root] = entity_id
    for entity_id in pending:  # an alias lives where its own forms are now
        home = Counter(root_of_node[n] for n in lineage.own_nodes(entity_id) if n in root_of_node)
        if home:
            aliases[entity_id] = ids[min(home, key=lambda r: (-home[r], r))]
    return ids, aliases


def updated_registry(
    registry: pd.DataFrame, clusters: dict[str, list[Form]], ids: dict[str, str], lineage: Lineage, run_stamp: str
) -> pd.DataFrame:
    """The registry with a row for every node seen for the first time (existing rows untouched)."""
    rows = [  # every form in an entity it was never part of before (a new form, a merge, a new ID)
        {"node": form.node, "entity_id": ids[root], "type": form.type, "registered": run_stamp}
        for root, members in clusters.items()
        for form in members
        if form.node not in lineage.nodes_of_id.get(ids[root], ())
    ]
    if not rows:
        return registry
    run = lineage.last_run + 1
    for row in rows:
        row["run"] = str(run)
    rows.sort(key=lambda r: r["node"])
    return pd.concat([registry, records_frame(rows, REGISTRY_COLUMNS)], ignore_index=True)
