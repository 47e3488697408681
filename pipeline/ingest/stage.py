"""Stage 1 entry point: read every input file into a document row, never stop for a bad one.

Outputs in the processed folder: `documents.parquet` (one row per document),
`ingest_errors.csv` (one row per file skipped, kind `skipped`, or worth a note,
kind `note`) and `ingest_state.json` (what the incremental reuse checks).

Incremental: a file whose size and modification time are unchanged since the
last run (and read by the same code and [ingest] settings) keeps its row
without being read again, so a growing archive costs one stat() per old file.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from pipeline.ingest.decoding import check_is_text, decode_bytes, text_file_bytes
from pipeline.ingest.files import InputFile, doc_id_for, iter_input_files, printable_name
from pipeline.ingest.metadata import find_metadata
from pipeline.ingest.offsets import Segment, dump_offset_map
from pipeline.ingest.problems import NOTE, IngestProblem, SkipFile
from pipeline.ingest.readers import BINARY_READERS, TEXT_READERS
from pipeline.io import code_key, neutralise_cell, write_json_atomic, write_parquet_parts_atomic, write_text_atomic

DOCUMENTS_FILE = "documents.parquet"
# documents per Parquet row group: extraction reads the texts a group at a time
DOCUMENTS_ROW_GROUP = 1_000
ERRORS_FILE = "ingest_errors.csv"
INGEST_STATE_FILE = "ingest_state.json"
ERROR_COLUMNS = ["file", "kind", "problem", "detail"]
T = TypeVar("T")


@dataclass
class Document:
    doc_id: str
    source_path: str
    source_format: str
    encoding: str
    content_hash: str
    title: str
    published: str
    date_source: str
    issuer: str
    issuer_city: str
    text: str
    n_chars: int
    # a reused row keeps the serialised map it was stored with (10,000 unchanged files
    # need not be parsed and dumped again on every run)
    offset_map: list[Segment] | str = field(default_factory=list)
    source_size: int = 0
    source_mtime_ns: int = 0


def read_document(path: Path, raw_dir: Path, config: dict[str, Any], doc_id: str | None = None) -> Document:
    """One file → Document; raises SkipFile with the reason when the file is unusable.
    `doc_id` defaults to the file's relative path without extension."""
    relative = "/".join(printable_name(part) for part in _relative_parts(path, raw_dir))
    limit = int(config["max_file_mb"] * 1024 * 1024)
    stat = path.stat()
    if stat.st_size == 0:
        raise SkipFile("empty", "file has 0 bytes")
    if stat.st_size > limit:
        raise SkipFile("too large", f"{stat.st_size / 1024 / 1024:.1f} MB exceeds the {config['max_file_mb']} MB limit")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in BINARY_READERS:
        source_format, binary_reader = BINARY_READERS[suffix]
        encoding = ""
        text, segments, structure = binary_reader(data)
    else:
        source_format, text_reader = TEXT_READERS.get(suffix, TEXT_READERS[".txt"])
        raw, encoding = decode_bytes(text_file_bytes(data), config["candidate_encodings"])
        check_is_text(raw, config["min_printable_ratio"])
        if not raw.strip():
            raise SkipFile("empty", "contains only whitespace")
        try:
            text, segments, structure = text_reader(raw)
        except (RecursionError, ValueError, AssertionError) as exc:
            raise SkipFile("unparseable", f"{type(exc).__name__}: {exc}") from exc
    if not text.strip():
        raise SkipFile("empty", "no text left after removing markup")
    doc_id = doc_id if doc_id is not None else doc_id_for(relative)
    metadata = find_metadata(structure, text, doc_id)
    return Document(
        doc_id=doc_id,
        source_path=relative,
        source_format=source_format,
        encoding=encoding,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        title=metadata.title,
        published=metadata.published,
        date_source=metadata.date_source,
        issuer=metadata.issuer,
        issuer_city=metadata.issuer_city,
        text=text,
        n_chars=len(text),
        offset_map=segments,
        source_size=stat.st_size,
        source_mtime_ns=stat.st_mtime_ns,
    )


def read_outcome(
    path: Path, raw_dir: Path, config: dict[str, Any], doc_id: str, relative: str
) -> Document | IngestProblem:
    """read_document, with the reason as a problem row instead of an exception."""
    try:
        return read_document(path, raw_dir, config, doc_id)
    except SkipFile as skip:
        return IngestProblem(relative, skip.problem, skip.detail)
    except OSError as exc:
        return IngestProblem(relative, "unreadable", exc.strerror or str(exc))


FileTask = tuple[Path, str, str]  # path, doc_id, relative (printable) path
# Reads a batch of files: one outcome per file, in order. Pure, so another engine
# can run it anywhere (pipeline/engine.py runs batches of it as Dask tasks).
BatchReader = Callable[[list[FileTask], Path, dict[str, Any]], Iterable["Document | IngestProblem"]]


def read_batch(files: list[FileTask], raw_dir: Path, config: dict[str, Any]) -> list[Document | IngestProblem]:
    return [read_outcome(path, raw_dir, config, doc_id, relative) for path, doc_id, relative in files]


def _relative_parts(path: Path, raw_dir: Path) -> tuple[str, ...]:
    return path.relative_to(raw_dir).parts if path.is_relative_to(raw_dir) else (path.name,)


def reader_key(config: dict[str, Any]) -> str:
    """Identity of everything that decides a file's document row: this package's code and [ingest]."""
    modules = sorted(p.name for p in Path(__file__).parent.glob("*.py"))
    return code_key(config, [f"ingest/{name}" for name in modules])


@dataclass(frozen=True, slots=True)  # one per document of the last run: kept small
class KnownDocument:
    """The last run's row of a document, as far as reusing it needs: where the row is
    in that run's documents.parquet, not its text (that row is copied when written)."""

    source_path: str
    source_size: int
    source_mtime_ns: int
    content_hash: str
    position: int


@dataclass(frozen=True, slots=True)
class Reused:
    """A document kept from the last run: its row is copied from that run's file."""

    doc_id: str
    content_hash: str
    position: int


def unchanged_document(item: InputFile, known: dict[str, KnownDocument]) -> Reused | None:
    """The last run's document for `item` when the file's size and mtime are unchanged."""
    row = known.get(item.doc_id)
    if row is None or row.source_path != item.relative:
        return None
    stat = item.path.stat()
    if (row.source_size, row.source_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        return None
    return Reused(item.doc_id, row.content_hash, row.position)


def unique_doc_id(item: InputFile, taken: dict[str, str]) -> tuple[str, IngestProblem | None]:
    """`item.doc_id`, or where an earlier file holds it (names that differ only in
    Unicode normalisation, or in the extension) the same with a suffix from the
    file name's bytes: stable from run to run, and a note that says so."""
    if item.doc_id not in taken:
        return item.doc_id, None
    unique = f"{item.doc_id}~{hashlib.sha1(item.relative_bytes).hexdigest()[:6]}"
    earlier = taken[item.doc_id]
    if earlier == item.relative:
        why = "the same name in two byte encodings (UTF-8 and a legacy code page)"
    elif earlier.rsplit(".", 1)[0] != item.relative.rsplit(".", 1)[0]:
        why = "the names differ only in Unicode normalisation (NFC/NFD)"
    else:
        why = "the names differ only in the extension"
    return unique, IngestProblem(
        item.relative,
        "doc_id renamed",
        f"doc_id {item.doc_id!r} is taken by {earlier} ({why}); this one is {unique!r}",
        NOTE,
    )


@dataclass
class IngestResult:
    problems: list[IngestProblem] = field(default_factory=list)  # files skipped: a partial run
    notes: list[IngestProblem] = field(default_factory=list)  # nothing lost
    reused: int = 0
    kept: int = 0  # documents in the table


@dataclass
class IngestedFiles(IngestResult):
    documents: list[Document] = field(default_factory=list)


def ingest_files(
    raw_dir: Path, config: dict[str, Any], exclude: Iterable[Path] = (), reader: BatchReader | None = None
) -> IngestedFiles:
    """Pure part of the stage: read every file, never raise for a bad one. `exclude`:
    our own outputs, never read; `reader`: see iter_documents."""
    result = IngestedFiles()
    # without a last run every document is read (no Reused)
    documents = iter_documents(raw_dir, config, result, exclude=exclude, reader=reader)
    result.documents = [d for d in documents if isinstance(d, Document)]
    return result


def iter_documents(
    raw_dir: Path,
    config: dict[str, Any],
    result: IngestResult,
    known: dict[str, KnownDocument] | None = None,
    exclude: Iterable[Path] = (),
    reader: BatchReader | None = None,
) -> Iterator[Document | Reused]:
    """The documents of `raw_dir` in listing order, as they are read; what was skipped
    or noted, and the counts, go to `result`. `known`: the last run's documents by
    doc_id, a Reused for each unchanged file; `exclude`: our own outputs, never read.
    `reader`: reads the files that are not reused ahead of the loop (another engine's
    workers), its outcomes taken in step as they come; the loop then only keeps order,
    IDs and duplicates, so the documents are the same as without."""
    seen_hashes: dict[str, str] = {}
    taken_ids: dict[str, str] = {}
    listed: Iterable[InputFile | IngestProblem] = iter_input_files(raw_dir, config["suffixes"], exclude)
    wanted: list[InputFile] = []
    if reader is not None:
        listed = list(listed)
        wanted = [item for item in listed if isinstance(item, InputFile) and not _reusable(item, known)]
    read_ahead = {id(item) for item in wanted}  # the listed items whose outcome comes from `reader`
    outcomes = _read_ahead(reader, wanted, raw_dir, config)

    def report(problem: IngestProblem) -> None:
        (result.notes if problem.kind == NOTE else result.problems).append(problem)

    with contextlib.closing(outcomes):  # an early stop also stops the reader's work
        for item in listed:
            if isinstance(item, IngestProblem):
                report(item)
                continue
            # taken in step, whatever this item turns out to need: read under the file's own doc_id
            ahead = _next_outcome(outcomes) if id(item) in read_ahead else None
            own_id = item.doc_id
            doc_id, renamed = unique_doc_id(item, taken_ids)
            item.doc_id = doc_id
            try:
                document: Document | Reused | IngestProblem | None = unchanged_document(item, known) if known else None
            except OSError as exc:
                report(IngestProblem(item.relative, "unreadable", exc.strerror or str(exc)))
                continue
            if document is None:
                document = ahead if ahead is not None and doc_id == own_id else None
                if document is None:  # not read ahead, or renamed (rare): read here
                    document = read_outcome(item.path, raw_dir, config, doc_id, item.relative)
                if isinstance(document, IngestProblem):
                    report(document)
                    continue
            else:
                result.reused += 1
            if document.content_hash in seen_hashes:
                report(
                    IngestProblem(
                        item.relative,
                        "duplicate",
                        f"same text as {seen_hashes[document.content_hash]}; read once",
                        NOTE,
                    )
                )
                continue
            if renamed:
                report(renamed)
            taken_ids[doc_id] = item.relative
            seen_hashes[document.content_hash] = item.relative
            result.kept += 1
            yield document
        # run the reader to its end (a Dask session then closes as after a normal run)
        if next(outcomes, None) is not None:
            raise RuntimeError("the reader gave more outcomes than files")  # a bug, not bad input


def _next_outcome(outcomes: Iterator[Document | IngestProblem]) -> Document | IngestProblem:
    outcome = next(outcomes, None)
    if outcome is None:
        raise RuntimeError("the reader gave fewer outcomes than files")  # a bug, not bad input
    return outcome


def _read_ahead(
    reader: BatchReader | None, wanted: list[InputFile], raw_dir: Path, config: dict[str, Any]
) -> Iterator[Document | IngestProblem]:
    if reader is not None and wanted:
        yield from reader([(item.path, item.doc_id, item.relative) for item in wanted], raw_dir, config)


def _reusable(item: InputFile, known: dict[str, KnownDocument] | None) -> bool:
    try:
        return bool(known) and unchanged_document(item, known) is not None
    except OSError:
        return False  # the loop reports it


DOCUMENT_COLUMNS = list(Document.__dataclass_fields__)


def documents_frame(documents: Iterable[Document | Reused], previous: LastDocuments | None = None) -> pd.DataFrame:
    """Rows of documents.parquet; a Reused document's row is copied from `previous`."""
    documents = list(documents)
    copied = previous.rows([d for d in documents if isinstance(d, Reused)]) if previous else {}
    rows = []
    for document in documents:
        if isinstance(document, Reused):
            rows.append(copied[document.position])
            continue
        # not dataclasses.asdict: it deep-copies every offset map, which is dumped right away
        row = {column: getattr(document, column) for column in DOCUMENT_COLUMNS}
        offsets = document.offset_map
        row["offset_map"] = offsets if isinstance(offsets, str) else dump_offset_map(offsets)
        rows.append(row)
    return pd.DataFrame(rows, columns=DOCUMENT_COLUMNS)


class DamagedLastFile(Exception):
    """A row group of the last run's documents.parquet cannot be read, or is not the
    table its index was read from."""


INDEX_COLUMNS = ["doc_id", "source_path", "source_size", "source_mtime_ns", "content_hash"]


class LastDocuments:
    """The last run's documents.parquet, opened once: its index (without the texts) and,
    a row group at a time, the rows of the documents this run reuses. Those come in the
    file's order (the listing is sorted, and a reused file keeps its path), so each group
    is read once; only the last groups needed are kept."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self._file = pq.ParquetFile(path)
        sizes = [self._file.metadata.row_group(i).num_rows for i in range(self._file.num_row_groups)]
        self._starts = list(itertools.accumulate(sizes, initial=0))
        self._groups: dict[int, list[dict[str, Any]]] = {}

    def index(self) -> dict[str, KnownDocument] | None:
        """doc_id → KnownDocument of every row; None where the table has other columns."""
        if self._file.schema_arrow.names != DOCUMENT_COLUMNS:
            return None
        table = self._file.read(columns=INDEX_COLUMNS)
        doc_ids, paths, sizes, mtimes, hashes = (table.column(c).to_pylist() for c in INDEX_COLUMNS)
        return {
            doc_id: KnownDocument(path, size, mtime, content_hash, position)
            for position, (doc_id, path, size, mtime, content_hash) in enumerate(
                zip(doc_ids, paths, sizes, mtimes, hashes, strict=True)
            )
        }

    def rows(self, documents: list[Reused]) -> dict[int, dict[str, Any]]:
        """position → row, for the documents' rows of the last file."""
        if not documents:
            return {}  # the groups stay: the next reused rows may be in the last one
        group_of = {d.position: bisect.bisect_right(self._starts, d.position) - 1 for d in documents}
        self._groups = {g: self._groups[g] if g in self._groups else self._read(g) for g in set(group_of.values())}
        rows = {p: self._groups[g][p - self._starts[g]] for p, g in group_of.items()}
        for document in documents:
            row = rows[document.position]
            if (row["doc_id"], row["content_hash"]) != (document.doc_id, document.content_hash):
                raise DamagedLastFile(f"row {document.position} is not {document.doc_id}")
        return rows

    def _read(self, group: int) -> list[dict[str, Any]]:
        import pyarrow as pa

        try:
            table = self._file.read_row_group(group, columns=DOCUMENT_COLUMNS)
            # rows from column lists: Arrow to Python values a column at a time
            columns = [table.column(c).to_pylist() for c in DOCUMENT_COLUMNS]
        except (OSError, ValueError, pa.ArrowException) as exc:  # the index was read, a page of texts is damaged
            raise DamagedLastFile(str(exc)) from exc
        return [dict(zip(DOCUMENT_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)]

    def close(self) -> None:
        self._file.close()


def document_rows(path: Path, wanted: set[str], columns: list[str]) -> Iterator[tuple[Any, ...]]:
    """`columns` (the first one: doc_id) of the `wanted` documents of a documents.parquet,
    in the file's order, read a row group at a time: the texts of a corpus are never in
    memory together."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not wanted:
        return
    chosen = pa.array(sorted(wanted), type=pa.string())
    with open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(columns=columns, batch_size=DOCUMENTS_ROW_GROUP):
            # only the wanted rows become Python values (one changed page: one text)
            batch = batch.filter(pc.is_in(batch.column(0), value_set=chosen))
            yield from zip(*(batch.column(i).to_pylist() for i in range(len(columns))), strict=True)


def errors_frame(problems: Iterable[IngestProblem]) -> pd.DataFrame:
    """ingest_errors.csv: cells that a spreadsheet would run as a formula are neutralised
    (a file may be named "=HYPERLINK(…).txt")."""
    rows = [{column: neutralise_cell(value) for column, value in asdict(p).items()} for p in problems]
    return pd.DataFrame(rows, columns=ERROR_COLUMNS)


def require_input_folder(raw_dir: Path) -> None:
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"input folder {raw_dir} does not exist")


def run_ingest(
    raw_dir: Path,
    processed_dir: Path,
    config: dict[str, Any],
    exclude: Iterable[Path] = (),
    reader: BatchReader | None = None,
) -> IngestResult:
    """Stage entry point: read `raw_dir`, write documents and errors to `processed_dir`.
    The processed folder and `exclude` (the ID registry, the decisions file) are
    never read as input, even where they lie inside `raw_dir`. The documents are
    written a row group at a time as they are read, the rows of unchanged files copied
    from the last run's file, so the corpus is never in memory as a whole."""
    require_input_folder(raw_dir)
    key = reader_key(config)
    # made before the listing, which lists it as our own output wherever it lies inside
    # `raw_dir`: the same on the first run as on later ones, however the writing is timed
    processed_dir.mkdir(parents=True, exist_ok=True)
    excluded = [processed_dir, *exclude]
    last = _last_documents(processed_dir, key)
    try:
        result = _write_documents(raw_dir, processed_dir, config, last, excluded, reader)
    except DamagedLastFile as damage:
        # a row of the last run's table cannot be read back: read every file again
        result = _write_documents(raw_dir, processed_dir, config, None, excluded, reader)
        result.notes.append(
            IngestProblem(
                DOCUMENTS_FILE,
                "last table unreadable",
                f"the last run's {DOCUMENTS_FILE} cannot be read back ({damage}); every file was read again",
                NOTE,
            )
        )
    write_json_atomic(processed_dir / INGEST_STATE_FILE, {"reader": key})
    write_text_atomic(processed_dir / ERRORS_FILE, errors_frame(result.problems + result.notes).to_csv(index=False))
    return result


def _write_documents(
    raw_dir: Path,
    processed_dir: Path,
    config: dict[str, Any],
    last: tuple[LastDocuments, dict[str, KnownDocument]] | None,
    exclude: list[Path],
    reader: BatchReader | None,
) -> IngestResult:
    result = IngestResult()
    previous, known = last if last is not None else (None, None)
    try:
        stream = iter_documents(raw_dir, config, result, known, exclude, reader)
        parts = (documents_frame(part, previous) for part in _chunks(stream, DOCUMENTS_ROW_GROUP))
        # the last file is closed before the new one replaces it (Windows cannot replace an open file)
        with contextlib.closing(stream):
            write_parquet_parts_atomic(
                processed_dir / DOCUMENTS_FILE,
                parts,
                documents_frame([]),
                before_replace=previous.close if previous else None,
            )
    finally:
        if previous is not None:
            previous.close()
    return result


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    return iter(lambda: list(itertools.islice(items, size)), [])


def _last_documents(processed_dir: Path, key: str) -> tuple[LastDocuments, dict[str, KnownDocument]] | None:
    """The last run's documents and their index, when it read them the same way (and
    they can be read)."""
    import pyarrow as pa

    state_path, documents_path = processed_dir / INGEST_STATE_FILE, processed_dir / DOCUMENTS_FILE
    try:
        if json.loads(state_path.read_text(encoding="utf-8")).get("reader") != key:
            return None
        previous = LastDocuments(documents_path)
    except (OSError, ValueError, AttributeError, pa.ArrowException):
        return None  # no usable state: read everything
    try:
        known = previous.index()
    except (OSError, ValueError, pa.ArrowException):
        known = None
    if known:
        return previous, known
    previous.close()
    return None
