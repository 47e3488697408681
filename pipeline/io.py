"""File output shared by all stages: every write is atomic (temp file, fsync, rename).

A crash or Ctrl-C mid-write therefore leaves the previous version of a file intact.
Outputs get the permissions any new file gets (the umask decides, as for a
program that simply opens the file), so colleagues on a shared drive can read
them; a target that is a symbolic link is written through, the link kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

import pandas as pd


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permissions a file created by open() would get: 0o666 less the umask."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(target: Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` atomically.
    `durable`: flushed to the disk first (a power cut cannot leave it empty); pages that are
    made again from the tables each run skip that, which is most of the cost of a small file.

    A symbolic link is resolved first, so the file it points to is replaced and the
    link stays (someone linked data/entity_ids.csv to a shared drive on purpose).
    mkstemp creates its file 0600; it is given the umask's permissions before the
    rename, as a plain open() would have."""
    target = Path(target)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputWriteError(target, exc) from exc
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputWriteError(target, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def waiting_lock(lock_file: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """`lock_file` held for the block; where another process holds it, `on_wait` says so
    once and the block waits for it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


class OutputWriteError(OSError):
    """An output could not be written (disk full, no permission); the previous version is intact."""

    def __init__(self, target: Path, cause: OSError) -> None:
        super().__init__(
            cause.errno, f"cannot write {target}: {cause.strerror or cause}; its previous version is intact"
        )
        self.target = target
        self.cause = cause


class MissingInput(FileNotFoundError):
    """A stage's input is missing: the stage that writes it has not run yet."""

    def __init__(self, path: Path, stage: str) -> None:
        super().__init__(f"{path} is missing: run `python -m pipeline {stage}` first")
        self.path = path
        self.stage = stage


def write_atomic(
    target: Path, writer: Callable[[IO[Any]], None], mode: str = "w", durable: bool = True, **open_kwargs: Any
) -> None:
    with atomic_path(target, durable) as tmp, open(tmp, mode, **open_kwargs) as handle:
        writer(handle)


def write_text_atomic(target: Path, text: str, durable: bool = True) -> None:
    write_atomic(target, lambda h: h.write(text), durable=durable, encoding="utf-8", newline="")


def write_small_texts_atomic(files: Iterable[tuple[Path, str]]) -> None:
    """Many small files (document pages), each replaced atomically but not flushed to the
    disk (they are made again from the tables on the next run). With ~4 system calls a
    file instead of atomic_path's ~12, for tens of thousands of files per run. The temp
    name is the file's and this process's; open() applies the umask itself. A symbolic
    link is written through, as by write_text_atomic. (Writer threads were tried: on
    this project's machines the disk, not the caller, sets the pace of 10,000 new files.)"""
    for target, text in files:
        _write_small_text(target, text)


def _write_small_text(target: Path, text: str) -> None:
    if target.is_symlink():
        write_text_atomic(target, text, durable=False)
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(handle, data) :]
        finally:
            os.close(handle)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputWriteError(target, exc) from exc


def write_json_atomic(target: Path, data: Any) -> None:
    write_text_atomic(target, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def write_parquet_atomic(target: Path, frame: pd.DataFrame) -> None:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


class _PartsFailed(Exception):
    """The parts' own OSError (reading an input), carried past atomic_path, which would
    report it as one of writing the target."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def write_parquet_parts_atomic(
    target: Path,
    parts: Iterable[pd.DataFrame],
    empty: pd.DataFrame,
    before_replace: Callable[[], None] | None = None,
) -> int:
    """Tables of one schema written one after the other as the row groups of one Parquet
    file, so the whole table is never in memory; `empty` gives the schema when there
    are no parts. Returns the number of rows written. The file reads back as the
    concatenation of the parts; an error while making them leaves the old file as it
    was. `before_replace` runs once all parts are written, just before the new file
    replaces the old one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def pulled() -> Iterator[pd.DataFrame]:
        try:
            yield from parts
        except OSError as exc:  # the one kind atomic_path reports as its own
            raise _PartsFailed(exc) from exc

    rows = 0
    try:
        # the source is closed at once on a failure here, so that it stops its work
        with atomic_path(target) as tmp, contextlib.closing(pulled()) as source:
            writer: pq.ParquetWriter | None = None
            try:
                for part in source:
                    table = pa.Table.from_pandas(part, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    rows += len(part)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, pa.Table.from_pandas(empty, preserve_index=False).schema)
            finally:
                if writer is not None:
                    writer.close()
            if before_replace is not None:
                before_replace()
    except _PartsFailed as failed:
        raise failed.error from None
    return rows


def read_columns(path: Path, stage_hint: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A stage's file (those of `columns` it has; default all), text left in Arrow: for the
    stages that work on whole columns and walk (as Python lists) only some rows, where
    read_parquet's Python strings would cost more than all the rest."""
    if not Path(path).is_file():
        raise MissingInput(Path(path), stage_hint)
    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    return pd.read_parquet(path, columns=columns)


def read_parquet(path: Path, stage_hint: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A stage's file (those of `columns` it has; default all), text as Python strings."""
    frame = read_columns(path, stage_hint, columns)
    # pandas 3 reads text as Arrow-backed strings; the stages walk their values one
    # by one, which is several times faster over plain Python strings.
    return frame.astype({c: object for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)})


def is_in(column: pd.Series, values: Iterable[Any]) -> pd.Series:
    """`column.isin(values)`. A column of Arrow-backed text (what read_columns gives) is
    looked up by pyarrow, which is 10–25 times faster there than pandas' isin."""
    if isinstance(values, str) or not (isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"):
        return column.isin(values)  # a string: pandas' own TypeError
    import pyarrow as pa
    import pyarrow.compute as pc

    values = list(values)
    text = pa.chunked_array(pa.array(column.array))
    value_set = pa.array([v for v in values if isinstance(v, str)], type=text.type)
    found = pc.is_in(text, value_set=value_set, skip_nulls=True).to_numpy(zero_copy_only=False)
    if any(not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v) for v in values):
        found |= column.isna().to_numpy()  # as in pandas: a missing value matches one in `values`
    return pd.Series(found, index=column.index, dtype=bool, name=column.name)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert (OWASP: leading apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def code_key(settings: Any, files: Iterable[str], folders: Iterable[str] = ()) -> str:
    """Hash of `settings` and of the named files and folders of the pipeline package:
    what decides a stage's output, so that a later run knows which results it may reuse."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    package = resources.files("pipeline")
    for name in files:
        digest.update(package.joinpath(name).read_bytes())
    for folder in folders:
        for item in sorted(package.joinpath(folder).iterdir(), key=lambda p: p.name):
            digest.update(item.read_bytes())
    return digest.hexdigest()
