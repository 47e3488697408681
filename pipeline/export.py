"""Stage 4, export: reconciled tables for spreadsheets.

Writes people.csv, places.csv, organisations.csv and mentions.csv (UTF-8 with
BOM, so Excel reads umlauts; no `sep=` line, which would break Excel's BOM
detection). The default dialect `excel-de` is what Excel with a German locale
expects: `;` between cells and a decimal comma in numbers; `excel` (comma, decimal
point) is the option for English-locale spreadsheets. Column headers are German
(pipeline/columns.py has the one mapping).

The workbook presseabgleich.xlsx has the same tables as sheets, plus the review
list (the report's discrepancies and the candidate pairs resolve did not merge),
the decisions file and the documents; numbers are numbers and dates are dates
there, so a reader can sort and filter them (header row frozen, filters on).
Cells that a spreadsheet would execute as a formula (starting with = + - @, tab
or carriage return) are neutralised with a leading apostrophe in CSV and stored
as plain text in XLSX. Lists are joined with " | "; dates in CSV are ISO 8601;
IDs stay text.

Spreadsheet limits (Excel and LibreOffice): a cell holds at most 32,767
characters, a sheet at most 1,048,576 rows. Longer lists keep the items that
fit and say how many were left out (the full lists stay in the Parquet files);
longer texts are cut with a marker; a table with more rows continues on
further sheets ("Erwähnungen (2)"), and a CSV too long for one sheet is named in
the log.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from pipeline.columns import (
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    FORMULA_STARTS,
    GERMAN_HEADERS,
    SHEET_NAMES,
    german_headers,
)
from pipeline.ingest import DOCUMENTS_FILE
from pipeline.io import OutputWriteError, atomic_path, read_columns, write_atomic
from pipeline.messages import language, say, set_language
from pipeline.resolve import CANDIDATES_FILE, ENTITIES_FILE, MENTION_ENTITIES_FILE
from pipeline.review.decisions import DECISION_COLUMNS

# name → (delimiter, decimal mark)
DIALECTS = {"excel-de": (";", ","), "excel": (",", ".")}
DOCUMENT_COLUMNS = ["doc_id", "source_path", "title", "published", "issuer"]
DATE_FORMAT = "dd.mm.yyyy"
DATETIME_FORMAT = "dd.mm.yyyy hh:mm"
LIST_SEPARATOR = " | "
WORKBOOK_FILE = "presseabgleich.xlsx"
# the report stage's table, a sheet of the workbook (named here: importing the report
# module would import spaCy, which the export stage does not need)
DISCREPANCIES_FILE = "discrepancies.parquet"
MAX_CELL_CHARS = 32_767
MAX_SHEET_ROWS = 1_048_576  # header included

COMMON_COLUMNS = [
    "entity_id",
    "canonical_name",
    "canonical_status",
    "canonical_reason",
    "type",
    "variants",
    "n_documents",
    "n_mentions",
    "first_seen",
    "last_seen",
    "documents",
]
PEOPLE_COLUMNS = COMMON_COLUMNS + ["titles", "roles", "affiliations", "emails", "phones", "merge_reasons", "merged_ids"]
OTHER_COLUMNS = COMMON_COLUMNS + ["merge_reasons", "merged_ids"]
MENTION_COLUMNS = [
    "mention_id",
    "doc_id",
    "entity_id",
    "canonical_name",
    "type",
    "text",
    "normalised",
    "normalisation",
    "start",
    "end",
    "source_start",
    "source_end",
    "sentence",
]
TABLES = {
    "people.csv": ("PER", PEOPLE_COLUMNS),
    "places.csv": ("LOC", OTHER_COLUMNS),
    "organisations.csv": ("ORG", OTHER_COLUMNS),
}


def neutralise(value: Any) -> Any:
    """Make a cell safe against formula injection (OWASP: prefix with an apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def join_list(items: list[str], limit: int = MAX_CELL_CHARS) -> str:
    """Items joined with " | ", as many as fit in one spreadsheet cell, then how many more."""
    text = LIST_SEPARATOR.join(items)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    length = 0
    for item in items:
        marker = f"{LIST_SEPARATOR}… (+{len(items) - len(kept) - 1} more)"
        if length + len(LIST_SEPARATOR) + len(item) + len(marker) > limit:
            break
        kept.append(item)
        length += len(LIST_SEPARATOR) + len(item)
    return LIST_SEPARATOR.join(kept + [f"… (+{len(items) - len(kept)} more)"])


def fit_cell(value: Any, limit: int = MAX_CELL_CHARS) -> Any:
    """Text a spreadsheet cell can hold: cut with a visible marker, never silently."""
    if isinstance(value, str) and len(value) > limit:
        marker = f" … [cut: {len(value):,} characters]"
        return value[: limit - len(marker)] + marker
    return value


def flatten_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """JSON list columns → " | "-joined text that fits in a cell."""
    flat = frame.copy()
    for column in flat.columns:
        sample = next((v for v in flat[column].tolist() if isinstance(v, str) and v), None)
        if sample is not None and sample.startswith("[") and sample.endswith("]"):
            try:
                flat[column] = _joined_lists(flat[column])
            except (json.JSONDecodeError, TypeError):
                continue
    return flat


# A JSON list of strings without escapes or control characters, as json.dumps writes it:
# its items are the texts between its '", "', so it needs no parsing (RE2 syntax).
SIMPLE_LIST = r'^\[(?:"[^"\\\x00-\x1f]*"(?:, "[^"\\\x00-\x1f]*")*)?\]$'


def _joined_lists(column: pd.Series) -> list[str]:
    """join_list(json.loads(cell)) of each cell, "" for an empty one. Most cells of a
    corpus are simple lists (SIMPLE_LIST) that fit a cell: those are joined column-wise."""
    values = column.tolist()
    text = _arrow_text(column)
    if text is None or text.null_count:
        return ["" if not v else join_list(json.loads(v)) for v in values]
    joined = pc.replace_substring(pc.utf8_slice_codeunits(text, 2, -2), '", "', LIST_SEPARATOR)
    simple = pc.and_(pc.match_substring_regex(text, SIMPLE_LIST), pc.less_equal(pc.utf8_length(joined), MAX_CELL_CHARS))
    cells = joined.to_pylist()
    for index in pc.indices_nonzero(pc.invert(simple)).to_pylist():
        cells[index] = join_list(json.loads(values[index])) if values[index] else ""
    return cells


def _arrow_text(column: pd.Series) -> pa.Array | None:
    """The column as one Arrow text array, or None where it holds anything but text."""
    try:
        text = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if text.type not in (pa.string(), pa.large_string(), pa.null()):
        return None
    text = text.cast(pa.large_string())
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


_FORMULA_FIRST = frozenset(FORMULA_STARTS)  # all one character long


def _needs_care(value: Any) -> bool:
    return isinstance(value, str) and (value[:1] in _FORMULA_FIRST or len(value) > MAX_CELL_CHARS)


def safe_cells(column: pd.Series) -> pd.Series | list[Any]:
    """fit_cell(neutralise(v)) of every cell; only the few cells that need it pay for it."""
    if column.dtype.kind in "iufb":
        return column
    return [fit_cell(neutralise(v)) if _needs_care(v) else v for v in column.tolist()]


def _csv_fields(column: pd.Series, delimiter: str, decimal: str) -> pa.Array | None:
    """The column's cells as pandas' to_csv of safe_cells(column) writes them (Python's
    csv module, minimal quoting), computed column-wise by Arrow: a corpus has millions of
    cells, and most need neither care nor quotes. None where only pandas can say."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    if column.dtype.kind not in "fbcmM" and (text := _arrow_text(column)) is not None:
        text = pc.fill_null(text, "")
        care = pc.or_(
            pc.is_in(pc.utf8_slice_codeunits(text, 0, 1), value_set=pa.array(FORMULA_STARTS)),
            pc.greater(pc.utf8_length(text), MAX_CELL_CHARS),
        )
        if pc.any(care).as_py():
            fixed = [fit_cell(neutralise(v)) for v in text.filter(care).to_pylist()]
            text = pc.replace_with_mask(text, care, pa.array(fixed, pa.large_string()))
        return _quoted(text, delimiter)
    # numbers, dates, mixed objects: pandas formats them (this column alone, as it would in the table)
    written = pd.DataFrame({"": safe_cells(column)}).to_csv(
        index=False, header=False, sep=delimiter, decimal=decimal, lineterminator="\r\n"
    )
    fields = written.split("\r\n")[:-1] if written else []
    if '"' in written or len(fields) != len(column):
        return None  # quoted fields: leave the table to pandas
    return pa.array(fields, pa.large_string())


def _quoted(text: pa.Array, delimiter: str) -> pa.Array:
    """Python's csv.QUOTE_MINIMAL: quotes round a field with the delimiter, a quote or a
    line break in it, and its quotes doubled."""
    special = pc.match_substring_regex(text, "[" + re.escape(delimiter) + '"\\r\\n]')
    if not pc.any(special).as_py():
        return text
    quote, nothing = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, nothing)
    return pc.if_else(special, quoted, text)


def to_csv_text(frame: pd.DataFrame, dialect: str) -> str:
    """The table as CSV text for a spreadsheet: BOM, German headers, the dialect's
    delimiter and decimal mark. The same text as pandas' to_csv of the safe cells."""
    return b"".join(_csv_parts(frame, dialect)).decode("utf-8")


def _csv_parts(frame: pd.DataFrame, dialect: str) -> list[Any]:
    """to_csv_text's UTF-8 bytes, in parts: the rows stay in Arrow's buffer."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown CSV dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    delimiter, decimal = DIALECTS[dialect]
    safe = german_headers(frame)
    columns = [_csv_fields(safe.iloc[:, i], delimiter, decimal) for i in range(safe.shape[1])]
    if not columns or any(c is None for c in columns) or safe.columns.nlevels > 1 or not safe.columns.is_unique:
        return [_pandas_csv_text(safe, delimiter, decimal).encode("utf-8")]
    header = _quoted(pa.array([str(c) for c in safe.columns], pa.large_string()), delimiter).to_pylist()
    if len(columns) == 1:  # the csv module writes a record of one empty field as ""
        empty = pc.equal(columns[0], "")
        columns, header = [pc.if_else(empty, pa.scalar('""', pa.large_string()), columns[0])], [header[0] or '""']
    parts: list[Any] = [("\ufeff" + delimiter.join(header) + "\r\n").encode("utf-8")]
    if len(safe):
        rows = pc.binary_join_element_wise(*columns, pa.scalar(delimiter, pa.large_string()))
        one_list = pa.LargeListArray.from_arrays(pa.array([0, len(rows)], pa.int64()), rows)
        parts += [pc.binary_join(one_list, pa.scalar("\r\n", pa.large_string()))[0].as_buffer(), b"\r\n"]
    return parts


def _pandas_csv_text(safe: pd.DataFrame, delimiter: str, decimal: str) -> str:
    cells = pd.DataFrame({column: safe_cells(safe[column]) for column in safe.columns}, columns=safe.columns)
    return "\ufeff" + cells.to_csv(index=False, sep=delimiter, decimal=decimal, lineterminator="\r\n")


def write_csv(frame: pd.DataFrame, path: Path, dialect: str) -> None:
    parts = _csv_parts(frame, dialect)
    write_atomic(path, lambda handle: [handle.write(part) for part in parts], mode="wb")


def sheet_parts(name: str, frame: pd.DataFrame, max_rows: int = MAX_SHEET_ROWS) -> list[tuple[str, pd.DataFrame]]:
    """A table as one or more sheets of at most `max_rows` rows (header included)."""
    size = max_rows - 1
    if len(frame) <= size:
        return [(name[:31], frame)]
    return [
        (name[:31] if number == 1 else f"{name[:24]} ({number})", frame.iloc[start : start + size])
        for number, start in enumerate(range(0, len(frame), size), 1)
    ]


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _as_local_datetime(value: Any) -> datetime | None:
    """An ISO time stamp as the reader's local time (a workbook cell has no time zone)."""
    try:
        stamp = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if stamp is not None and stamp.tzinfo is not None:
        stamp = stamp.astimezone().replace(tzinfo=None)
    return stamp


def _cell_writer(sheet: Any, kind: str, values: list[Any], formats: dict[str, Any]) -> Any:
    """The function that writes one cell of this column: the type is decided once per
    column where it can be (text columns straight to write_string), not per cell."""

    def write_any(row: int, col: int, value: Any) -> None:
        if kind == "date" and (day := _as_date(value)) is not None:
            sheet.write_datetime(row, col, day, formats["date"])
        elif kind == "datetime" and (stamp := _as_local_datetime(value)) is not None:
            sheet.write_datetime(row, col, stamp, formats["datetime"])
        elif value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
            return
        else:
            sheet.write(row, col, fit_cell(value))

    def write_text(row: int, col: int, value: str) -> None:
        if value:
            sheet.write_string(row, col, value if len(value) <= MAX_CELL_CHARS else fit_cell(value))

    if not kind and all(type(v) is str for v in values):
        return write_text
    return write_any


class _Workbook:
    """An open workbook: one sheet per table (continued on further sheets past the row
    limit), header row frozen, filters on, German headers. Numbers are written as
    numbers, the date columns of pipeline/columns.py as dates. xlsxwriter streams
    each sheet's rows as they are added (constant memory) and is told never to turn
    text into formulas or links."""

    def __init__(self, path: Path, max_rows: int) -> None:
        options = {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        }
        self.book = xlsxwriter.Workbook(str(path), options)
        self.max_rows = max_rows
        self.header = self.book.add_format({"bold": True})
        self.formats = {
            "date": self.book.add_format({"num_format": DATE_FORMAT}),
            "datetime": self.book.add_format({"num_format": DATETIME_FORMAT}),
        }

    def add(self, sheets: dict[str, pd.DataFrame]) -> None:
        for name, table in sheets.items():
            for sheet_name, frame in sheet_parts(name, table, self.max_rows):
                self._write(sheet_name, frame)

    def _write(self, sheet_name: str, frame: pd.DataFrame) -> None:
        sheet = self.book.add_worksheet(sheet_name)
        # each column as a list: walking a DataFrame's rows costs more than writing them
        values = [frame.iloc[:, index].tolist() for index in range(frame.shape[1])]
        kinds = ["date" if c in DATE_COLUMNS else "datetime" if c in DATETIME_COLUMNS else "" for c in frame.columns]
        for index, column in enumerate(frame.columns):
            longest = max([len(str(GERMAN_HEADERS.get(column, column)))] + [len(str(v)) for v in values[index][:200]])
            sheet.set_column(index, index, min(max(10, longest + 2), 60))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(frame), max(0, len(frame.columns) - 1))
        sheet.write_row(0, 0, list(german_headers(frame.head(0)).columns), self.header)
        writers = [_cell_writer(sheet, kind, column, self.formats) for column, kind in zip(values, kinds, strict=True)]
        for row_number, row in enumerate(zip(*values, strict=True), 1):
            for column_number, value in enumerate(row):
                writers[column_number](row_number, column_number, value)

    def close(self) -> None:
        self.book.close()


def write_workbook(
    sheets: dict[str, pd.DataFrame], path: Path, max_rows: int = MAX_SHEET_ROWS, parent_pid: int | None = None
) -> None:
    """The tables as one workbook (see _Workbook), written atomically."""
    with atomic_path(path) as tmp:
        book = _Workbook(tmp, max_rows)
        book.add(sheets)
        book.close()
        _check_parent(path, parent_pid)


def _check_parent(path: Path, parent_pid: int | None) -> None:
    if parent_pid is not None and os.getppid() != parent_pid:
        # the run that asked for this workbook was killed: a newer run may have written
        # one since, which these older tables must not replace
        raise SystemExit(f"{path}: the run that started this workbook is gone; not replacing the file")


def build_tables(entities: pd.DataFrame, links: pd.DataFrame) -> dict[str, pd.DataFrame]:
    tables = {}
    for file_name, (type_, columns) in TABLES.items():
        subset = entities[entities["type"] == type_]
        tables[file_name] = flatten_lists(subset.reindex(columns=columns).fillna("")).reset_index(drop=True)
    canonical = dict(zip(entities["entity_id"].tolist(), entities["canonical_name"].tolist(), strict=True))
    mentions = links.assign(canonical_name=links["entity_id"].map(canonical))
    tables["mentions.csv"] = mentions.reindex(columns=MENTION_COLUMNS).fillna("").reset_index(drop=True)
    return tables


def _workbook_process(
    tables: dict[str, pd.DataFrame], path: Path, parent_pid: int, language: str, review: Connection, send: Connection
) -> None:
    """The workbook writer's process: the tables' sheets at once, then the review sheets
    that the parent sends when its other outputs are written; a write that fails is one
    line (the parent names the file too)."""
    set_language(language)  # a spawned process (Windows) starts without the parent's choice
    send.close()  # the parent's end: closed here, a parent that dies ends the pipe
    try:
        with atomic_path(path) as tmp:
            book = _Workbook(tmp, MAX_SHEET_ROWS)
            book.add(tables)
            try:
                later = review.recv()
            except EOFError:
                raise SystemExit(
                    f"{path}: the run that started this workbook is gone; not replacing the file"
                ) from None
            book.add(later)
            book.close()
            _check_parent(path, parent_pid)
    except OutputWriteError as exc:
        print(say("write_failed", path=exc.target, reason=exc.cause.strerror or exc.cause), file=sys.stderr)
        sys.exit(WORKBOOK_NOT_WRITTEN)


WORKBOOK_NOT_WRITTEN = 3  # the writer's exit code when it reported why itself


class WorkbookJob:
    """The workbook written by a child process while the caller goes on: after
    extraction the pipeline runs on one core, and the workbook is the slowest
    output. The child writes the tables' sheets at once; `wait()` hands it the
    review sheets (`review()`: the report's discrepancies, the decisions, the
    documents; read then, so a caller can let the report run meanwhile) and
    returns once the file is complete (it is written atomically, so a reader never
    sees half of it)."""

    def __init__(
        self, sheets: dict[str, pd.DataFrame], path: Path, review: Callable[[], dict[str, pd.DataFrame]] = dict
    ) -> None:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self.path = path
        self.review = review
        receive, self._send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_workbook_process,
            args=(sheets, path, os.getpid(), language(), receive, self._send),
            name="presseabgleich-workbook",
        )
        self.process.start()
        receive.close()  # the child's end
        # a caller that exits without waiting ends the pipe, so the writer gives up (and
        # removes its temporary file) instead of the exit waiting for it forever
        atexit.register(self._close)

    def _close(self) -> None:
        self._send.close()
        atexit.unregister(self._close)

    def wait(self) -> None:
        try:
            sheets = self.review()
        except BaseException:
            self.stop()
            raise
        try:
            self._send.send(sheets)
        except OSError:
            pass  # the writer has ended already: its exit code says how
        finally:
            self._close()
        self.process.join()
        if self.process.exitcode == WORKBOOK_NOT_WRITTEN:
            raise WorkbookNotWritten(self.path)  # the writer said why, in one line
        if self.process.exitcode != 0:
            raise RuntimeError(
                f"writing {self.path} failed (exit code {self.process.exitcode}; see the messages above)"
            )

    def stop(self) -> None:
        """The run failed elsewhere: the workbook would not match the tables."""
        self.process.terminate()
        self.process.join()
        self._close()


class WorkbookNotWritten(RuntimeError):
    """The workbook writer could not write its file and has said so."""


def review_sheets(processed_dir: Path, config: dict[str, Any], log: Any = print) -> dict[str, pd.DataFrame]:
    """The workbook's review list, decisions and documents, each from the file that
    stage writes; a missing or out-of-date input leaves its sheet out with a note."""
    from pipeline.review.decisions import DecisionsFileError, read_decisions

    sheets: dict[str, pd.DataFrame] = {}
    report_file = processed_dir / DISCREPANCIES_FILE
    entities_file = processed_dir / ENTITIES_FILE
    if report_file.is_file() and report_file.stat().st_mtime_ns >= entities_file.stat().st_mtime_ns:
        sheets["discrepancies"] = flatten_lists(read_columns(report_file, "report"))
    else:
        log(say("export.no_discrepancies_sheet", file=report_file))
    candidates_file = processed_dir / CANDIDATES_FILE
    if candidates_file.is_file():
        candidates = read_columns(candidates_file, "resolve")
        sheets["possible_duplicates"] = candidates
    decisions_file = Path(config["paths"]["decisions_file"])
    try:
        decisions, _ = read_decisions(decisions_file)
        sheets["decisions"] = pd.DataFrame([d.row() for d in decisions], columns=DECISION_COLUMNS)
    except DecisionsFileError as exc:
        log(say("export.no_decisions_sheet", detail=exc))
    documents_file = processed_dir / DOCUMENTS_FILE
    if documents_file.is_file():
        sheets["documents"] = pd.read_parquet(documents_file, columns=DOCUMENT_COLUMNS)
    return sheets


def run_export(
    processed_dir: Path, config: dict[str, Any], log: Any = print, background: bool = False
) -> tuple[dict[str, pd.DataFrame], WorkbookJob | None]:
    """Stage entry point: entities.parquet + mention_entities.parquet → CSV and XLSX.
    The workbook is written alongside the CSVs; with `background` the caller waits
    for it (WorkbookJob.wait) when it likes, otherwise before this returns. The
    workbook's review sheets come from the report's output, read when the caller
    waits: the report must be written by then."""
    entities = read_columns(processed_dir / ENTITIES_FILE, "resolve")
    links = read_columns(processed_dir / MENTION_ENTITIES_FILE, "resolve", MENTION_COLUMNS)
    tables = build_tables(entities, links)
    workbook = None
    if config["export"]["write_xlsx"]:
        sheets = {name.removesuffix(".csv"): frame for name, frame in tables.items()}
        limit = config["export"]["workbook_max_mentions"]
        if limit and len(sheets["mentions"]) > limit:
            del sheets["mentions"]
            log(say("export.no_mentions_sheet", mentions=len(tables["mentions.csv"]), limit=limit))

        def review() -> dict[str, pd.DataFrame]:
            return {SHEET_NAMES[name]: frame for name, frame in review_sheets(processed_dir, config, log=log).items()}

        workbook = WorkbookJob(
            {SHEET_NAMES[name]: frame for name, frame in sheets.items()}, processed_dir / WORKBOOK_FILE, review
        )
    dialect = config["export"]["csv_dialect"]
    try:
        for file_name, frame in tables.items():
            write_csv(frame, processed_dir / file_name, dialect)
            if len(frame) >= MAX_SHEET_ROWS:
                log(say("export.too_many_rows", file=file_name, rows=len(frame), limit=MAX_SHEET_ROWS - 1))
    except BaseException:
        if workbook is not None:
            workbook.stop()
        raise
    if workbook is not None and not background:
        workbook.wait()
        workbook = None
    return tables, workbook
