"""Ingest writes documents.parquet a row group at a time (issue 14): the rows of
unchanged files are copied from the last run's file part by part, the files read
ahead by another engine are taken as they come, and a failure half-way leaves the
last file as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import pipeline.ingest.stage as stage
from pipeline.config import load_config
from pipeline.ingest import DOCUMENTS_FILE, NOTE, Document, IngestProblem, ingest_files, read_document, run_ingest
from pipeline.ingest.stage import DOCUMENT_COLUMNS, FileTask, read_batch


def press_text(n: int, extra: str = "") -> str:
    return f"Meldung {n}\n\nHagen, {n % 28 + 1}. März 2025 – Die Stadt meldet Nummer {n}.{extra}"


def write_files(raw: Path, numbers: range) -> None:
    raw.mkdir(exist_ok=True)
    for n in numbers:
        (raw / f"meldung-{n:02d}.txt").write_text(press_text(n), encoding="utf-8")


def table(processed: Path) -> pd.DataFrame:
    return pd.read_parquet(processed / DOCUMENTS_FILE)


@pytest.fixture
def ingest_config() -> dict[str, Any]:
    return load_config()["ingest"]


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(stage, "DOCUMENTS_ROW_GROUP", 3)


def test_an_incremental_ingest_writes_the_table_a_fresh_one_writes(tmp_path: Path, ingest_config, small_groups):
    """Files removed, changed and added between the others, in parts of 3 documents:
    the reused rows come from several parts of the last file, in this run's order."""
    raw, processed, fresh = tmp_path / "raw", tmp_path / "processed", tmp_path / "fresh"
    write_files(raw, range(0, 20, 2))
    first = run_ingest(raw, processed, ingest_config)
    assert first.kept == 10 and pq.ParquetFile(processed / DOCUMENTS_FILE).num_row_groups == 4

    for n in (0, 8, 18):
        (raw / f"meldung-{n:02d}.txt").unlink()
    changed = raw / "meldung-10.txt"
    changed.write_text(press_text(10, " Ergänzt."), encoding="utf-8")
    write_files(raw, range(5, 25, 6))  # 5, 11, 17, 23: between the others and after them
    again = run_ingest(raw, processed, ingest_config)
    assert (again.reused, again.kept) == (6, 11)

    run_ingest(raw, fresh, ingest_config)
    pd.testing.assert_frame_equal(table(processed), table(fresh))
    assert table(processed)["doc_id"].tolist() == sorted(p.stem for p in raw.iterdir())


def test_a_reused_row_is_copied_from_the_last_file_not_read_again(tmp_path: Path, ingest_config, small_groups):
    """Same size and modification time: the row is the last run's, found by its position
    in that file (here in its third part), even though the bytes differ now."""
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(10))
    run_ingest(raw, processed, ingest_config)
    target = raw / "meldung-07.txt"
    stat = target.stat()
    target.write_text(press_text(7).replace("Hagen", "Herne"), encoding="utf-8")
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = run_ingest(raw, processed, ingest_config)
    assert again.reused == 10
    rows = table(processed).set_index("doc_id")
    assert rows.loc["meldung-07", "text"] == press_text(7)
    assert [rows.loc[f"meldung-{n:02d}", "text"] for n in range(10)] == [press_text(n) for n in range(10)]


def test_a_failure_half_way_leaves_the_last_file_and_no_leftovers(
    tmp_path: Path, ingest_config, small_groups, monkeypatch
):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(10))
    run_ingest(raw, processed, ingest_config)
    before = sorted(p.name for p in processed.iterdir())
    last = (processed / DOCUMENTS_FILE).read_bytes()
    write_files(raw, range(10, 20))

    def failing(path: Path, *args: Any) -> Document | IngestProblem:
        if path.name == "meldung-17.txt":  # after two new parts were written
            raise RuntimeError("disk gone")
        return read_document(path, *args)

    monkeypatch.setattr(stage, "read_document", failing)
    with pytest.raises(RuntimeError, match="disk gone"):
        run_ingest(raw, processed, ingest_config)
    assert (processed / DOCUMENTS_FILE).read_bytes() == last
    assert sorted(p.name for p in processed.iterdir()) == before


def test_files_read_ahead_are_taken_as_they_come_and_give_the_same_documents(tmp_path: Path, ingest_config):
    """A reader like the Dask engine's: outcomes come one batch at a time, and the first
    document is out long before the last file is read; doc_ids taken by an earlier file
    ("a.txt" and "a.md") are read again under their new ID, in step with the rest."""
    raw = tmp_path / "raw"
    write_files(raw, range(12))
    (raw / "meldung-03.md").write_text(press_text(3, " Als Markdown."), encoding="utf-8")
    (raw / "leer.txt").write_bytes(b"")
    read_so_far = 0

    def batches_as_they_come(files: list[FileTask], folder: Path, config: dict[str, Any]) -> Iterator[Any]:
        nonlocal read_so_far
        for i in range(0, len(files), 2):
            for outcome in read_batch(files[i : i + 2], folder, config):
                read_so_far += 1
                yield outcome

    result = stage.IngestResult()
    stream = stage.iter_documents(raw, ingest_config, result, reader=batches_as_they_come)
    first = next(stream)
    assert read_so_far <= 2
    streamed = [first, *stream]
    assert read_so_far == 14

    plain = ingest_files(raw, ingest_config)
    assert [d.doc_id for d in streamed] == [d.doc_id for d in plain.documents]
    assert [d.text for d in streamed] == [d.text for d in plain.documents]
    assert any("~" in d.doc_id for d in streamed)  # the renamed one
    assert [(p.file, p.problem) for p in result.problems] == [(p.file, p.problem) for p in plain.problems]
    assert [(p.file, p.problem) for p in result.notes] == [(p.file, p.problem) for p in plain.notes]
    assert result.kept == len(plain.documents) == 13


class TrackedReader:
    """A reader whose outcomes say when they are closed; it keeps them referenced, so
    only a close() ends them (not the garbage collector)."""

    def __init__(self) -> None:
        self.closed: list[bool] = []
        self.made: list[Iterator[Any]] = []

    def __call__(self, files: list[FileTask], folder: Path, config: dict[str, Any]) -> Iterator[Any]:
        self.made.append(self.outcomes(files, folder, config))
        return self.made[-1]

    def outcomes(self, files: list[FileTask], folder: Path, config: dict[str, Any]) -> Iterator[Any]:
        try:
            yield from read_batch(files, folder, config)
        finally:
            self.closed.append(True)


def test_an_early_stop_or_an_error_closes_the_reader_at_once(tmp_path: Path, ingest_config, monkeypatch):
    """The Dask reader's tasks stop when the stream stops: at a close, and while an
    error raised in the loop is still being handled (its traceback holds the loop)."""
    raw = tmp_path / "raw"
    write_files(raw, range(6))
    reader = TrackedReader()
    stream = stage.iter_documents(raw, ingest_config, stage.IngestResult(), reader=reader)
    next(stream)
    stream.close()
    assert reader.closed == [True]

    real_unique_doc_id = stage.unique_doc_id

    def failing(item: Any, taken: dict[str, str]) -> Any:
        if item.doc_id == "meldung-03":
            raise RuntimeError("broken")
        return real_unique_doc_id(item, taken)

    monkeypatch.setattr(stage, "unique_doc_id", failing)
    reader = TrackedReader()
    with pytest.raises(RuntimeError, match="broken") as error:
        list(stage.iter_documents(raw, ingest_config, stage.IngestResult(), reader=reader))
    assert error.traceback and reader.closed == [True]


def test_a_failing_write_closes_the_reader_at_once(tmp_path: Path, ingest_config, small_groups, monkeypatch):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(10))
    real_frame = stage.documents_frame

    def failing(documents: Any, previous: Any = None) -> pd.DataFrame:
        documents = list(documents)
        if any(d.doc_id == "meldung-04" for d in documents):
            raise OSError(28, "No space left on device")
        return real_frame(documents, previous)

    monkeypatch.setattr(stage, "documents_frame", failing)
    reader = TrackedReader()
    with pytest.raises(OSError, match="No space") as error:
        run_ingest(raw, processed, ingest_config, reader=reader)
    assert error.traceback and reader.closed == [True]
    assert not (processed / DOCUMENTS_FILE).exists()


def test_a_last_table_with_a_damaged_page_of_texts_means_every_file_is_read_again(
    tmp_path: Path, ingest_config, small_groups
):
    """The index columns read, a page of texts does not: the run reads every file again
    instead of stopping half-way, and writes the table a fresh run writes."""
    raw, processed, fresh = tmp_path / "raw", tmp_path / "processed", tmp_path / "fresh"
    write_files(raw, range(9))
    for n in range(9):  # texts long enough for a compressed page to damage
        path = raw / f"meldung-{n:02d}.txt"
        path.write_text(press_text(n, f" Absatz {n}: die Stadt informiert." * 40), encoding="utf-8")
    run_ingest(raw, processed, ingest_config)
    path = processed / DOCUMENTS_FILE
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(DOCUMENT_COLUMNS.index("text"))
    data = bytearray(path.read_bytes())
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data[start : start + chunk.total_compressed_size] = b"\x55" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    with pytest.raises(OSError):
        pq.ParquetFile(path).read_row_group(1, columns=["text"])
    pq.ParquetFile(path).read(columns=["doc_id", "content_hash"])  # the index still reads

    again = run_ingest(raw, processed, ingest_config)
    assert (again.reused, again.kept) == (0, 9)
    [note] = again.notes
    assert (note.file, note.problem, note.kind) == (DOCUMENTS_FILE, "last table unreadable", NOTE)
    run_ingest(raw, fresh, ingest_config)
    pd.testing.assert_frame_equal(table(processed), table(fresh))


def test_a_text_that_no_longer_decodes_in_the_last_table_means_every_file_is_read_again(tmp_path: Path, ingest_config):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(4))
    run_ingest(raw, processed, ingest_config)
    path = processed / DOCUMENTS_FILE
    pq.write_table(pq.read_table(path), path, compression="none")  # a text's bytes as they are
    data = bytearray(path.read_bytes())
    at = data.index(b"Nummer 2.")
    data[at] = 0xFF  # no longer UTF-8
    path.write_bytes(bytes(data))
    again = run_ingest(raw, processed, ingest_config)
    assert (again.reused, again.kept) == (0, 4)
    assert [n.problem for n in again.notes] == ["last table unreadable"]
    assert table(processed)["text"].tolist() == [press_text(n) for n in range(4)]


def test_a_row_that_is_not_the_document_of_the_index_is_refused(tmp_path: Path, ingest_config):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(3))
    run_ingest(raw, processed, ingest_config)
    last = stage.LastDocuments(processed / DOCUMENTS_FILE)
    try:
        known = last.index()
        first = known["meldung-00"]
        assert last.rows([stage.Reused("meldung-00", first.content_hash, first.position)])
        with pytest.raises(stage.DamagedLastFile):
            last.rows([stage.Reused("meldung-01", first.content_hash, first.position)])
    finally:
        last.close()


def test_each_group_of_the_last_table_is_read_once_even_across_new_files(
    tmp_path: Path, ingest_config, small_groups, monkeypatch
):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    write_files(raw, range(0, 40, 10))  # 0, 10 | 20, 30: groups of 3 rows, the last one short
    run_ingest(raw, processed, ingest_config)
    write_files(raw, range(11, 19))  # a whole part of new files between 10 and 20
    reads: list[int] = []
    real_read = stage.LastDocuments._read

    def counted(self: Any, group: int) -> Any:
        reads.append(group)
        return real_read(self, group)

    monkeypatch.setattr(stage.LastDocuments, "_read", counted)
    again = run_ingest(raw, processed, ingest_config)
    assert again.reused == 4 and sorted(reads) == [0, 1]


def test_a_reader_that_gives_too_few_or_too_many_outcomes_is_a_clear_error(tmp_path: Path, ingest_config):
    raw = tmp_path / "raw"
    write_files(raw, range(4))

    def short(files: list[FileTask], folder: Path, config: dict[str, Any]) -> list[Any]:
        return read_batch(files[:-1], folder, config)

    def long(files: list[FileTask], folder: Path, config: dict[str, Any]) -> list[Any]:
        return read_batch(files + files[:1], folder, config)

    for reader, said in ((short, "fewer"), (long, "more")):
        with pytest.raises(RuntimeError, match=f"{said} outcomes than files"):
            list(stage.iter_documents(raw, ingest_config, stage.IngestResult(), reader=reader))


def test_a_reader_read_to_the_end_ends_as_after_a_normal_run(tmp_path: Path, ingest_config):
    """The Dask reader's session closes as interrupted when its generator is closed
    early; after the last outcome it must end normally instead."""
    raw = tmp_path / "raw"
    write_files(raw, range(5))
    endings: list[str] = []

    def reader(files: list[FileTask], folder: Path, config: dict[str, Any]) -> Iterator[Any]:
        try:
            yield from read_batch(files, folder, config)
        except GeneratorExit:
            endings.append("closed early")
            raise
        endings.append("finished")

    documents = list(stage.iter_documents(raw, ingest_config, stage.IngestResult(), reader=reader))
    assert len(documents) == 5 and endings == ["finished"]
