"""The reviewers' decisions file: human-editable CSV that every run honours.

Columns (see README, "Review loop"):
  decision_id  any unique text (the `review` command numbers them 1, 2, …)
  action       accept | rename | split | merge
  entity_id    the entity the decision is about (as in people.csv etc.)
  value        accept/rename: the canonical name; merge: the other entity's ID
  mentions     split: the mentions that are someone else, as `doc_id: text`,
               several separated by ";"
  reviewer, decided_at, note   free text

The pipeline only reads this file. The `review` command appends one line at a
time (never rewriting what is there), keeping the file's delimiter, so the file
can also be edited in Excel or LibreOffice (comma or semicolon CSV, with or
without BOM).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

DECISION_COLUMNS = ["decision_id", "action", "entity_id", "value", "mentions", "reviewer", "decided_at", "note"]
ACTIONS = ("accept", "rename", "split", "merge")


@dataclass
class Decision:
    decision_id: str
    action: str
    entity_id: str
    value: str = ""
    mentions: str = ""
    reviewer: str = ""
    decided_at: str = ""
    note: str = ""

    def mention_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.mentions.split(";"):
            if ":" in item:
                doc_id, text = item.split(":", 1)
                pairs.append((doc_id.strip(), text.strip()))
        return pairs


@dataclass
class DecisionProblem:
    line: int
    problem: str


class DecisionsFileError(ValueError):
    """The decisions file cannot be read at all (not: a single bad row)."""


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_decisions(path: Path) -> tuple[list[Decision], list[DecisionProblem]]:
    """All valid decisions, and one problem per row that cannot be used (never dropped silently)."""
    if not path.is_file():
        return [], []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DecisionsFileError(f"{path}: cannot read the decisions file: {exc}") from exc
    if not text.strip():
        return [], []
    delimiter = _sniff_delimiter(text.splitlines()[0])
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    missing = {"decision_id", "action", "entity_id"} - set(reader.fieldnames or [])
    if missing:
        raise DecisionsFileError(f"{path}: the header lacks the column(s) {', '.join(sorted(missing))}")
    decisions: list[Decision] = []
    problems: list[DecisionProblem] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        values = {k: (row.get(k) or "").strip() for k in DECISION_COLUMNS}
        if not any(values.values()):
            continue
        decision = Decision(**values)
        if decision.action not in ACTIONS:
            problems.append(DecisionProblem(line, f"unknown action {decision.action!r} (use {', '.join(ACTIONS)})"))
        elif not decision.entity_id:
            problems.append(DecisionProblem(line, "no entity_id"))
        elif decision.action in {"rename", "merge"} and not decision.value:
            problems.append(DecisionProblem(line, f"{decision.action} needs a value"))
        elif decision.action == "split" and not decision.mention_pairs():
            problems.append(DecisionProblem(line, "split needs mentions as 'doc_id: text'"))
        elif decision.decision_id in seen:
            problems.append(DecisionProblem(line, f"decision_id {decision.decision_id!r} used twice"))
        else:
            seen.add(decision.decision_id)
            decisions.append(decision)
    return decisions, problems


def append_decision(path: Path, decision: Decision) -> Decision:
    """Append one decision; creates the file (UTF-8 with BOM, comma) if missing.

    The existing content is never rewritten: the line is appended and fsynced,
    in the delimiter the file already uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing, _ = read_decisions(path)
    if not decision.decision_id:
        numbers = [int(d.decision_id) for d in existing if d.decision_id.isdigit()]
        decision.decision_id = str(max(numbers, default=0) + 1)
    if not decision.decided_at:
        decision.decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    if path.is_file() and path.stat().st_size > 0:
        raw = path.read_bytes()
        first_line = raw.decode("utf-8-sig", errors="replace").splitlines()[0]
        delimiter = _sniff_delimiter(first_line)
        header = next(csv.reader([first_line], delimiter=delimiter))
        prefix = "" if raw.endswith((b"\n", b"\r")) else "\r\n"
    else:
        delimiter, header, prefix = ",", DECISION_COLUMNS, "\ufeff" + ",".join(DECISION_COLUMNS) + "\r\n"
    buffer = io.StringIO()
    values = asdict(decision)
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(
        [values.get(column, "") for column in header]
    )
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(prefix + buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    return decision
