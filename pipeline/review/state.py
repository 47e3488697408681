"""Which decisions file and ID registry made a processed folder's outputs.

A run records them in `run_state.json`; `review` reads the decisions file from
there (so it writes where the run will read), and a later run that cannot find
a file an earlier run on the same folder had stops instead of overwriting
decided outputs with undecided ones (the usual cause: starting it from another
folder, where the relative default paths point elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.io import write_json_atomic

STATE_FILE = "run_state.json"
CURATION_FILES = ("decisions_file", "entity_ids_file")


class CurationFilesMissing(RuntimeError):
    """A decisions file or ID registry that the last run on this folder used is not where this run looks."""


def recorded_state(processed_dir: Path) -> dict[str, Any]:
    path = processed_dir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_curation_files(processed_dir: Path, config: dict[str, Any]) -> None:
    state = recorded_state(processed_dir)
    for key in CURATION_FILES:
        recorded = state.get(key) or {}
        current = Path(config["paths"][key]).resolve()
        if recorded.get("present") and not current.is_file():
            earlier = Path(recorded["path"])
            hint = (
                f"it is still at {earlier}: run from the folder you ran in before, or pass --config with paths.{key}"
                if earlier.is_file()
                else f"{earlier} is gone too; restore it, or use a new --processed-dir to start afresh"
            )
            raise CurationFilesMissing(
                f"{current} not found, but the last run on {processed_dir} used {earlier}; {hint}. "
                "Nothing was overwritten."
            )


def record_curation_files(processed_dir: Path, config: dict[str, Any]) -> None:
    state = recorded_state(processed_dir)
    for key in CURATION_FILES:
        path = Path(config["paths"][key]).resolve()
        state[key] = {"path": str(path), "present": path.is_file()}
    write_json_atomic(processed_dir / STATE_FILE, state)


def decisions_path(processed_dir: Path, config: dict[str, Any]) -> Path:
    """The decisions file of the run that made this folder's outputs, else the configured one."""
    recorded = (recorded_state(processed_dir).get("decisions_file") or {}).get("path")
    return Path(recorded) if recorded else Path(config["paths"]["decisions_file"])
