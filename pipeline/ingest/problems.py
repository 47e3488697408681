"""What the stage reports about files it did not (or not plainly) use."""

from __future__ import annotations

from dataclasses import dataclass

SKIPPED = "skipped"  # the file is not in documents.parquet
NOTE = "note"  # worth a look, but nothing was lost (a duplicate, a renamed doc_id, our own outputs)


@dataclass
class IngestProblem:
    """One line of ingest_errors.csv. `file` is the printable form of the path."""

    file: str
    problem: str
    detail: str
    kind: str = SKIPPED


class SkipFile(Exception):
    """The file cannot be used; the message says why."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail
