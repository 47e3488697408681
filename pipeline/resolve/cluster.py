"""Clustering: the candidate-pair table plus the reviewers' judgements → clusters of forms.

Judgements are constraints over form nodes: "same" is a must-link, "not same" a
cannot-link between the nodes of two entities. Must-links are joined first, then
the scored pairs from best to worst, each only where it breaks no cannot-link,
so a reviewer's "not the same" holds against any amount of evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.resolve.pairs import Pair


def split_tag(node: str) -> str:
    """The decision that split a node off ("PER|split:7|…" → "7"), "" for ordinary nodes."""
    parts = node.split("|")
    return parts[1][6:] if len(parts) == 3 and parts[1].startswith("split:") else ""


@dataclass
class CannotLink:
    decision_id: str
    side_a: set[str]
    side_b: set[str]


@dataclass
class ConstrainedUnionFind:
    """Union-find over nodes whose roots carry the cannot-link sides they contain."""

    parent: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sides: dict[str, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))

    def add(self, node: str) -> None:
        self.parent.setdefault(node, node)

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def forbid(self, constraint: CannotLink) -> None:
        for side, nodes in ((0, constraint.side_a), (1, constraint.side_b)):
            for node in nodes:
                self.sides[self.find(node)].add((constraint.decision_id, side))

    def blocked_by(self, a: str, b: str) -> str:
        """The decision that forbids joining a's and b's clusters, or ""."""
        sides_a, sides_b = self.sides.get(self.find(a), set()), self.sides.get(self.find(b), set())
        for decision_id, side in sides_a:
            if (decision_id, 1 - side) in sides_b:
                return decision_id
        return ""

    def union(self, a: str, b: str, reason: str, reviewed: bool = False) -> bool:
        """Join a's and b's clusters unless a cannot-link forbids it (or, for evidence,
        unless a reviewer split one of them off). True when they are one cluster after."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if not reviewed and split_tag(root_a) != split_tag(root_b):
            return False
        if self.blocked_by(a, b):
            return False
        if root_b < root_a:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.reasons[root_a].extend(self.reasons.pop(root_b, []))
        self.reasons[root_a].append(reason)
        self.sides[root_a] |= self.sides.pop(root_b, set())
        return True


@dataclass
class MustLink:
    """A reviewer's "same": every form of the one entity with every form of the other."""

    decision_id: str
    nodes: list[str]


def cluster_nodes(
    nodes: Iterable[str],
    pairs: list[Pair],
    must_links: list[MustLink],
    cannot_links: list[CannotLink],
    merge_min_score: float,
) -> tuple[ConstrainedUnionFind, dict[str, str], list[Pair]]:
    """The union-find after clustering, decision → why a must-link could not be kept
    (a later not-same forbids it), and the pairs that were not merged."""
    uf = ConstrainedUnionFind()
    for node in nodes:
        uf.add(node)
    for constraint in cannot_links:
        uf.forbid(constraint)
    refused: dict[str, str] = {}
    for link in must_links:  # newest first: a later judgement wins over an older one
        first = link.nodes[0]
        for node in link.nodes[1:]:
            blocker = uf.blocked_by(first, node)
            if not uf.union(first, node, f"reviewer decision {link.decision_id}: same", reviewed=True):
                refused[link.decision_id] = f"contradicts decision {blocker} (not the same)"
                break
    unmerged = []
    for pair in pairs:
        if pair.score < merge_min_score or not uf.union(
            pair.node_a, pair.node_b, f"{pair.rule}: {'; '.join(pair.evidence)}"
        ):
            unmerged.append(pair)
    return uf, refused, unmerged
