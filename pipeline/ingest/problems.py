"""What the stage reports about files it did not (or not plainly) use."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SKIPPED = "skipped"  # the file is not in documents.parquet
NOTE = "note"  # worth a look, but nothing was lost (a duplicate, a renamed doc_id, our own outputs)
UNPRINTABLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def escape_unprintable(text: str) -> str:
    """Control, format (bidi override) and line-separator characters as \\x.. / \\u.... escapes."""
    if text.isprintable():
        return text
    escaped = []
    for char in text:
        if unicodedata.category(char) in UNPRINTABLE_CATEGORIES:
            code = ord(char)
            escaped.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            escaped.append(char)
    return "".join(escaped)


@dataclass
class IngestProblem:
    """One line of ingest_errors.csv and of the log. Its texts are made printable
    here, once for every source of them (file names, parser messages): a message
    is one line and no control character reaches a terminal."""

    file: str
    problem: str
    detail: str
    kind: str = SKIPPED

    def __post_init__(self) -> None:
        self.file = escape_unprintable(self.file)
        self.problem = escape_unprintable(self.problem)
        self.detail = escape_unprintable(self.detail)


class SkipFile(Exception):
    """The file cannot be used; the message says why."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail
