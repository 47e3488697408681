"""Stage 3, resolve: variant names → entities (see stage.py for the steps)."""

from pipeline.resolve.ids import REGISTRY_COLUMNS, load_registry
from pipeline.resolve.stage import (
    CANDIDATES_FILE,
    DECISION_STATUS_FILE,
    ENTITIES_FILE,
    FACTS_FILE,
    MENTION_ENTITIES_FILE,
    PAIRS_FILE,
    pair_id,
    resolve,
    run_resolve,
)

__all__ = [
    "CANDIDATES_FILE",
    "DECISION_STATUS_FILE",
    "ENTITIES_FILE",
    "FACTS_FILE",
    "MENTION_ENTITIES_FILE",
    "PAIRS_FILE",
    "REGISTRY_COLUMNS",
    "load_registry",
    "pair_id",
    "resolve",
    "run_resolve",
]
