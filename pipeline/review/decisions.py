"""The reviewers' judgement store: a human-editable CSV that every run honours.

Columns (see README, "Prüfen und entscheiden"):
  decision_id  any unique text (`review` numbers them 1, 2, …; left empty, the
               row is called after its line: L12)
  action       what is decided (any letter case; German words work too):
               same / merge      entity_id and value (another ID) are one entity
               not-same          entity_id and value are different entities
               unsure            looked at the pair, cannot tell (keeps it listed)
               accept / rename   canonical name of entity_id is value
               retype            entity_id is of type value (PER, LOC, ORG)
               ignore            entity_id is not a person, place or organisation
               split             the `mentions` of entity_id are someone else
               undo              retracts decision `value`
  entity_id    the entity, as in people.csv etc. (IDs never expire: a merged ID
               stays an alias of the entity that absorbed it)
  value        see action
  mentions     split: `doc_id: text`, several separated by ";"
  reviewer, decided_at, note   free text

The pipeline only reads this file. `review` appends one line at a time under a
lock, in the file's own delimiter and encoding, so the file can also be edited
in Excel or LibreOffice (comma or semicolon, UTF-8 with or without BOM, or
Windows-1252 as Excel saves "CSV (Trennzeichen-getrennt)"). A row that cannot
be used is reported with its line number; it never hides the rows after it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

DECISION_COLUMNS = ["decision_id", "action", "entity_id", "value", "mentions", "reviewer", "decided_at", "note"]
PAIR_ACTIONS = ("same", "not-same", "unsure")
ENTITY_ACTIONS = ("accept", "rename", "retype", "ignore")
ACTIONS = (*PAIR_ACTIONS, *ENTITY_ACTIONS, "split", "undo")
ACTION_ALIASES = {
    "merge": "same",
    "same": "same",
    "gleich": "same",
    "zusammenführen": "same",
    "not-same": "not-same",
    "not_same": "not-same",
    "notsame": "not-same",
    "not same": "not-same",
    "distinct": "not-same",
    "different": "not-same",
    "verschieden": "not-same",
    "nicht gleich": "not-same",
    "unsure": "unsure",
    "unsicher": "unsure",
    "accept": "accept",
    "annehmen": "accept",
    "rename": "rename",
    "umbenennen": "rename",
    "retype": "retype",
    "typ": "retype",
    "ignore": "ignore",
    "ignorieren": "ignore",
    "split": "split",
    "trennen": "split",
    "undo": "undo",
    "rückgängig": "undo",
}
ENTITY_TYPES = ("PER", "LOC", "ORG")
READ_ENCODINGS = ("utf-8-sig", "cp1252")
# a note with more line breaks than this is an unclosed quote, not a cell
MAX_RECORD_LINES = 50


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
    line: int = 0  # where it stands in the file (0: not from a file)

    def __post_init__(self) -> None:
        self.action = normalise_action(self.action)
        if self.action == "retype":
            self.value = self.value.strip().upper()

    def mention_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.mentions.split(";"):
            if ":" in item:
                doc_id, text = item.split(":", 1)
                if doc_id.strip() and text.strip():
                    pairs.append((doc_id.strip(), text.strip()))
        return pairs

    @property
    def pair(self) -> tuple[str, str]:
        """The two entities of a pair judgement, in a fixed order."""
        return (min(self.entity_id, self.value), max(self.entity_id, self.value))

    def row(self) -> dict[str, str]:
        values = asdict(self)
        values.pop("line")
        return values


@dataclass
class DecisionProblem:
    line: int
    problem: str
    decision_id: str = ""


class DecisionsFileError(ValueError):
    """The decisions file cannot be read at all (not: a single bad row)."""


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _decode(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    for encoding in READ_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DecisionsFileError(f"{path}: the decisions file is neither UTF-8 nor Windows-1252 text")


def _looks_like_row(fields: list[str], action_index: int) -> bool:
    return len(fields) > action_index and normalise_action(fields[action_index]) in ACTIONS


def _records(lines: list[str], start: int, delimiter: str, action_index: int) -> Iterable[tuple[int, list[str], str]]:
    """(line number, fields, problem) per record. Quoted cells may span lines (Excel
    writes a cell with a line break so), but a quote left open must not swallow the
    rows after it: where the lines it would swallow are decisions of their own, the
    opening line is reported and the next lines are read on their own."""
    index = start
    while index < len(lines):
        number = index + 1
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        fields, consumed = _parse(lines, index, delimiter)
        swallowed = lines[index + 1 : index + consumed]
        if consumed > 1 and (
            fields is None
            or any(_looks_like_row(next(csv.reader([s], delimiter=delimiter), []), action_index) for s in swallowed)
        ):
            yield number, [], 'a quote (") is opened and never closed; the rest of this line was not read'
            index += 1
            continue
        if fields is None:
            yield number, [], 'a quote (") is opened and never closed'
            index += 1
            continue
        yield number, fields, ""
        index += consumed


def _parse(lines: list[str], start: int, delimiter: str) -> tuple[list[str] | None, int]:
    """Fields of the record starting at `start` and how many lines it takes (None if never closed)."""
    for end in range(start + 1, min(len(lines), start + MAX_RECORD_LINES) + 1):
        chunk = "\n".join(lines[start:end]) + "\n"
        try:
            rows = list(csv.reader(io.StringIO(chunk), delimiter=delimiter, strict=True))
        except csv.Error:
            continue
        if len(rows) == 1:
            return rows[0], end - start
    return None, min(len(lines), start + MAX_RECORD_LINES) - start


def normalise_action(action: str) -> str:
    cleaned = " ".join(action.strip().lower().replace("_", "-").split())
    return ACTION_ALIASES.get(cleaned, ACTION_ALIASES.get(cleaned.replace("-", " "), cleaned))


def _problem(decision: Decision) -> str:
    """Why a row cannot be used, or ""."""
    action = decision.action
    if action not in ACTIONS:
        known = ", ".join(ACTIONS)
        return f"unknown action {decision.action!r} (use {known})"
    if action == "undo":
        return "" if decision.value else "undo needs the decision_id to retract in value"
    if not decision.entity_id:
        return "no entity_id"
    if action in PAIR_ACTIONS:
        if not decision.value:
            return f"{action} needs the other entity's ID in value"
        if decision.value == decision.entity_id:
            return f"{action} of an entity with itself"
    if action == "rename" and not decision.value:
        return "rename needs the new name in value"
    if action == "retype" and decision.value.upper() not in ENTITY_TYPES:
        return f"retype needs one of {', '.join(ENTITY_TYPES)} in value"
    if action == "split" and not decision.mention_pairs():
        return "split needs mentions as 'doc_id: text'"
    return ""


def read_decisions(path: Path) -> tuple[list[Decision], list[DecisionProblem]]:
    """All usable decisions in file order, and one problem per row that cannot be used."""
    if not path.is_file():
        return [], []
    try:
        text, _ = _decode(path)
    except OSError as exc:
        raise DecisionsFileError(f"{path}: cannot read the decisions file: {exc.strerror or exc}") from exc
    if not text.strip():
        return [], []
    lines = text.splitlines()
    header_index = next(i for i, line in enumerate(lines) if line.strip())
    delimiter = _sniff_delimiter(lines[header_index])
    header = [h.strip().lower() for h in next(csv.reader([lines[header_index]], delimiter=delimiter))]
    missing = {"decision_id", "action", "entity_id"} - set(header)
    if missing:
        raise DecisionsFileError(f"{path}: the header lacks the column(s) {', '.join(sorted(missing))}")
    decisions: list[Decision] = []
    problems: list[DecisionProblem] = []
    seen: set[str] = set()
    for line, fields, problem in _records(lines, header_index + 1, delimiter, header.index("action")):
        if problem:
            problems.append(DecisionProblem(line, problem))
            continue
        values = {name: (fields[i].strip() if i < len(fields) else "") for i, name in enumerate(header)}
        values = {k: values.get(k, "") for k in DECISION_COLUMNS}
        if not any(values.values()):
            continue
        decision = Decision(**values, line=line)
        if not decision.decision_id:  # a row typed in by hand: its line names it
            decision.decision_id = f"L{line}"
        problem = _problem(decision)
        if not problem and decision.decision_id in seen:
            problem = f"decision_id {decision.decision_id!r} used twice (the first one counts)"
        if problem:
            problems.append(DecisionProblem(line, problem, decision.decision_id))
            continue
        seen.add(decision.decision_id)
        decisions.append(decision)
    return decisions, problems


def _used_ids(text: str, delimiter: str) -> set[str]:
    """Every decision ID in the file, valid row or not, so a new one is never a reused one."""
    ids = set()
    for line in text.splitlines()[1:]:
        first = next(csv.reader([line], delimiter=delimiter), [""])
        if first:
            ids.add(first[0].strip())
    return ids


def decisions_lock(path: Path) -> Path:
    """The lock file `append_decision` takes beside the decisions file."""
    return Path(str(path) + ".lock")


def append_decision(path: Path, decision: Decision) -> Decision:
    """Append one decision under a lock; creates the file (UTF-8 with BOM, comma) if missing.

    Existing content is never rewritten: the line is appended in the file's own
    delimiter and encoding and fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(decisions_lock(path)), timeout=60):
        if path.is_file() and path.stat().st_size > 0:
            text, encoding = _decode(path)
            header_line = next(line for line in text.splitlines() if line.strip())
            delimiter = _sniff_delimiter(header_line)
            header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
            used = _used_ids(text, delimiter)
            prefix = "" if text.endswith(("\n", "\r")) else "\r\n"
            write_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        else:
            delimiter, header, used = ",", DECISION_COLUMNS, set()
            prefix = "\ufeff" + ",".join(DECISION_COLUMNS) + "\r\n"
            write_encoding = "utf-8"
        if not decision.decision_id or decision.decision_id in used:
            numbers = [int(i) for i in used if i.isdigit()]
            decision.decision_id = str(max(numbers, default=0) + 1)
        if not decision.decided_at:
            decision.decided_at = datetime.now(UTC).isoformat(timespec="seconds")
        buffer = io.StringIO()
        values = decision.row()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(
            [values.get(column, "") for column in header]
        )
        line = prefix + buffer.getvalue()
        try:
            data = line.encode(write_encoding)
        except UnicodeEncodeError as exc:
            raise DecisionsFileError(
                f"{path} is saved as {write_encoding}, which cannot hold {line[exc.start : exc.end]!r}; "
                "save it as 'CSV UTF-8' in Excel and try again"
            ) from exc
        with open(path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return decision


@dataclass
class Judgements:
    """The decisions in force: retractions removed, a later judgement on the same pair
    or entity superseding an earlier one. `superseded` maps a decision ID to why it
    is not in force."""

    pairs: list[Decision]
    entities: list[Decision]
    splits: list[Decision]
    superseded: dict[str, str]


def judgements_in_force(decisions: list[Decision]) -> Judgements:
    by_id = {d.decision_id: d for d in decisions}
    superseded: dict[str, str] = {}
    for decision in decisions:
        if decision.action == "undo":
            target = by_id.get(decision.value)
            if target is None:
                superseded[decision.decision_id] = f"undo of decision {decision.value!r}, which is not in the file"
            else:
                superseded[target.decision_id] = f"retracted by decision {decision.decision_id}"
                superseded[decision.decision_id] = f"retracts decision {decision.value}"
    active = [d for d in decisions if d.decision_id not in superseded]
    last_pair: dict[tuple[str, str], Decision] = {}
    last_entity: dict[tuple[str, str], Decision] = {}
    for decision in active:
        if decision.action in PAIR_ACTIONS:
            earlier = last_pair.get(decision.pair)
            if earlier is not None:
                superseded[earlier.decision_id] = f"superseded by decision {decision.decision_id} on the same pair"
            last_pair[decision.pair] = decision
        elif decision.action in ENTITY_ACTIONS:
            slot = "type" if decision.action == "retype" else "ignore" if decision.action == "ignore" else "name"
            earlier = last_entity.get((decision.entity_id, slot))
            if earlier is not None:
                superseded[earlier.decision_id] = f"superseded by decision {decision.decision_id} on the same entity"
            last_entity[(decision.entity_id, slot)] = decision
    in_force = [d for d in active if d.decision_id not in superseded]
    return Judgements(
        pairs=[d for d in in_force if d.action in PAIR_ACTIONS],
        entities=[d for d in in_force if d.action in ENTITY_ACTIONS],
        splits=[d for d in in_force if d.action == "split"],
        superseded=superseded,
    )
