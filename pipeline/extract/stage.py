"""Stage 2, extract: documents → mentions (people, places, organisations, contacts).

Reads `documents.parquet`, runs the German NER pipeline plus the rule layer
(batches.py) over the new and changed documents, in worker processes or on a Dask
cluster, writes `mentions.parquet` (one row per mention) and `run_info.json` (which
model produced them). Nothing in this file may decide a mention: it is left out of
the extractor key, so what it does must not change any document's mentions (which
columns the model reads, how a batch goes through it and where texts are cut are in
batches.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from spacy.language import Language
from tqdm import tqdm

from pipeline.extract.batches import (
    RECORD_COLUMNS,
    DocumentRecord,
    batch_rows,
    build_nlp,
    document_batches,
    extract_batch,
    piece_chars,
)
from pipeline.extract.lexicon import world_given_names_version
from pipeline.extract.mentions import MENTION_COLUMNS
from pipeline.ingest import DOCUMENTS_FILE, document_rows
from pipeline.io import MissingInput, code_key, write_json_atomic, write_parquet_atomic, write_parquet_parts_atomic
from pipeline.messages import say
from pipeline.model import ModelInfo, model_info
from pipeline.stage_files import EXTRACT_STATE_FILE, MENTIONS_FILE, RUN_INFO_FILE

# Per-process pipeline of the extraction workers: inherited from the parent when
# processes fork, built once per worker otherwise.
_worker_nlp: Language | None = None


def _exit_with_parent(parent: int) -> None:
    """A killed parent leaves its workers waiting forever on a queue whose other
    end they hold themselves; they leave as soon as they are orphaned."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _start_worker(model_config: dict[str, Any], info: ModelInfo, parent: int) -> None:
    global _worker_nlp
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent handles it
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    if _worker_nlp is None:
        _worker_nlp, _ = build_nlp(model_config, log=lambda message: None, info=info)


def _worker_batch(documents: list[DocumentRecord], batch_size: int, max_chunk_chars: int) -> list[tuple[Any, ...]]:
    assert _worker_nlp is not None, "worker started without a pipeline"
    return extract_batch(_worker_nlp, documents, batch_size, max_chunk_chars)


def extract_mentions(
    nlp: Language,
    documents: Iterable[DocumentRecord] | pd.DataFrame,
    batch_size: int = 64,
    n_process: int = 1,
    progress: bool = False,
    max_chunk_chars: int = 20_000,
    model_config: dict[str, Any] | None = None,
    info: ModelInfo | None = None,
    start_method: str | None = None,
    total: int | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Mention rows of documents (records or a table; `total`: how many, for the
    progress bar), streamed in document order.

    With several processes each worker runs the whole extraction (model, rule
    layer, mention rows) on whole batches and sends back only the rows: shipping
    spaCy Docs back to the parent, as nlp.pipe(n_process=…) does, costs the parent
    more time deserialising than the rule layer costs the workers. At most two
    batches per worker are in flight, so memory stays flat in corpus size.
    """
    batches = document_batches(documents, batch_size, max_chunk_chars)
    total = len(documents) if isinstance(documents, pd.DataFrame) else total
    with tqdm(total=total, unit="doc", desc="extract", disable=not progress) as bar:
        if n_process <= 1:
            for batch in batches:
                yield from batch_rows(nlp, batch, batch_size, max_chunk_chars)
                bar.update(len(batch))
        else:
            for rows, size in _in_workers(
                nlp, batches, n_process, batch_size, max_chunk_chars, model_config, info, start_method
            ):
                yield from rows
                bar.update(size)


def _in_workers(
    nlp: Language,
    batches: Iterator[list[DocumentRecord]],
    n_process: int,
    batch_size: int,
    max_chunk_chars: int,
    model_config: dict[str, Any] | None,
    info: ModelInfo | None,
    start_method: str | None,
) -> Iterator[tuple[list[tuple[Any, ...]], int]]:
    """(rows, number of documents) of each batch, in order, from a pool of workers."""
    global _worker_nlp
    # fork where it is safe (Linux): workers inherit the loaded pipeline for free.
    start_method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
    if start_method != "fork" and (model_config is None or info is None):
        raise ValueError("model_config and info are needed to start workers without fork")
    _worker_nlp = nlp if start_method == "fork" else None
    context = multiprocessing.get_context(start_method)
    pool = ProcessPoolExecutor(
        n_process, mp_context=context, initializer=_start_worker, initargs=(model_config, info, os.getpid())
    )
    try:
        in_flight: deque[tuple[Future[list[tuple[Any, ...]]], int]] = deque()
        for batch in batches:
            in_flight.append((pool.submit(_worker_batch, batch, batch_size, max_chunk_chars), len(batch)))
            if len(in_flight) >= 2 * n_process:
                future, size = in_flight.popleft()
                yield future.result(), size
        while in_flight:
            future, size = in_flight.popleft()
            yield future.result(), size
    except BaseException:
        # Ctrl-C or a failed batch: drop the queued batches instead of finishing them.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        _worker_nlp = None


INT_COLUMNS = ("start", "end", "source_start", "source_end")


CANONICAL_DTYPES = {c: pd.api.types.pandas_dtype("int64" if c in INT_COLUMNS else "str") for c in MENTION_COLUMNS}


def canonical_mentions(mentions: pd.DataFrame) -> pd.DataFrame:
    """One schema for the mentions table (its columns in order, their types), however it
    was assembled, so that the same mentions always give the same bytes. A table that
    has it already (rows read back from the last file) is passed on as it is, not copied."""
    index = mentions.index
    if (
        list(mentions.columns) == MENTION_COLUMNS
        and all(mentions[c].dtype == dtype for c, dtype in CANONICAL_DTYPES.items())
        and isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
    ):
        return mentions
    return mentions[MENTION_COLUMNS].astype(CANONICAL_DTYPES).reset_index(drop=True)


def worker_processes(configured: int, n_documents: int) -> int:
    """`extract.n_process`, where 0 means: one per core from 200 documents, else one."""
    if configured > 0:
        return configured
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, n_documents // 100)) if n_documents >= 200 else 1


def extractor_key(info: ModelInfo, max_chunk_chars: int) -> str:
    """Identity of everything that decides a document's mentions: the model and how it is
    loaded (model.py), the rule layer and the word lists and normalisation it reads, how
    texts reach the model (batches.py) and where a long text is cut; not this file's
    plumbing."""
    package = resources.files("pipeline")
    extract_files = sorted(
        f"extract/{p.name}"
        for p in package.joinpath("extract").iterdir()
        if p.name.endswith(".py") and p.name != "stage.py"
    )
    names = world_given_names_version()  # the given names the rules read from a package
    return code_key(
        [info.name, info.version, info.data_hash, names, piece_chars(max_chunk_chars)],
        ["gazetteers.py", "normalize.py", "model.py", *extract_files],
        ["resources", "extract/wordlists"],
    )


def run_extract(processed_dir: Path, config: dict[str, Any], log: Any = print) -> tuple[dict[str, int], ModelInfo]:
    """Stage entry point; returns the number of mentions per label. Incremental: a
    document whose text and extractor (model + rules) are unchanged since the last run
    keeps its mentions; only new or changed documents go through the model, on this
    machine or (config engine.kind) on a Dask cluster: either gives the same mentions.
    Texts are read and mentions written a part at a time, so the stage's memory does
    not grow with the corpus."""
    documents_path = processed_dir / DOCUMENTS_FILE
    if not documents_path.is_file():
        raise MissingInput(documents_path, "ingest")
    documents = pd.read_parquet(documents_path, columns=["doc_id", "content_hash"])
    info = model_info(config["model"], log=log)
    key = extractor_key(info, config["extract"]["max_chunk_chars"])
    previous = _previous_state(processed_dir, key)
    last_hash = (
        dict(zip(previous["doc_id"].tolist(), previous["content_hash"].tolist(), strict=True))
        if previous is not None
        else {}
    )
    doc_ids = documents["doc_id"].tolist()
    todo: set[str] = set()
    kept: set[str] = set()
    for doc_id, content_hash in zip(doc_ids, documents["content_hash"].tolist(), strict=True):
        (kept if doc_id in last_hash and last_hash[doc_id] == content_hash else todo).add(doc_id)
    records = document_rows(documents_path, todo, RECORD_COLUMNS)
    fresh: Iterator[pd.DataFrame] = iter(())
    if todo and config["engine"]["kind"] == "dask":
        from pipeline.engine import extract_on_dask  # imports dask: only when asked for

        fresh = row_frames(extract_on_dask(records, len(todo), config, info, log=log))
    elif todo:
        nlp, info = build_nlp(config["model"], log=log, info=info)
        log(say("model.loaded", model=info.describe(), components=", ".join(info.components)))
        extract_config = config["extract"]
        rows = extract_mentions(
            nlp,
            records,
            batch_size=extract_config["batch_size"],
            n_process=worker_processes(extract_config["n_process"], len(todo)),
            progress=len(todo) >= extract_config["progress_min_docs"],
            max_chunk_chars=extract_config["max_chunk_chars"],
            model_config=config["model"],
            info=info,
            total=len(todo),
        )
        fresh = row_frames(rows)
    position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    streams = [fresh]
    if kept:  # only a usable last state keeps anything
        streams.append(kept_mentions(processed_dir / MENTIONS_FILE, kept, position))
    counts: Counter[str] = Counter()

    def counted(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            counts.update(part["label"].tolist())
            yield part

    empty = canonical_mentions(pd.DataFrame([], columns=MENTION_COLUMNS))
    state_path = processed_dir / EXTRACT_STATE_FILE
    # the last state goes just before the new mentions replace the old: a crash between
    # the two files leaves no state (everything is extracted again), never a state that
    # vouches for rows the mentions file does not have
    n_mentions = write_parquet_parts_atomic(
        processed_dir / MENTIONS_FILE,
        counted(in_document_order(streams, position)),
        empty,
        before_replace=lambda: state_path.unlink(missing_ok=True),
    )
    log(say("extract.processed", processed=len(todo), reused=len(kept)))
    state = documents[["doc_id", "content_hash"]].assign(extractor=key)
    write_parquet_atomic(state_path, state)
    write_json_atomic(
        processed_dir / RUN_INFO_FILE,
        {"model": info.__dict__, "documents": len(documents), "mentions": n_mentions, "processed": len(todo)},
    )
    return dict(counts), info


def kept_mentions(path: Path, kept: set[str], position: dict[str, int]) -> Iterator[pd.DataFrame]:
    """The last run's mentions of the `kept` documents, in this run's document order.
    The last run wrote them in its own document order, which is this run's as long as
    the files are listed the same way; then they are read a part at a time, else whole
    and sorted. Rows are chosen in Arrow, before they become a table."""
    kept_ids = pa.array(sorted(kept), type=pa.string())
    in_order = _rows_follow_order(path, kept_ids, position)
    with open(path, "rb") as handle:
        batches = pq.ParquetFile(handle).iter_batches(batch_size=ROWS_PER_FRAME)
        chosen = (batch.filter(pc.is_in(batch.column("doc_id"), value_set=kept_ids)) for batch in batches)
        parts = (batch.to_pandas() for batch in chosen if batch.num_rows)
        if in_order:
            yield from (canonical_mentions(part) for part in parts)
            return
        frames = list(parts)
    if frames:
        whole = pd.concat(frames, ignore_index=True)
        yield canonical_mentions(whole.sort_values("doc_id", key=lambda c: c.map(position), kind="stable"))


def _rows_follow_order(path: Path, kept_ids: pa.Array, position: dict[str, int]) -> bool:
    """Whether the file's rows of the kept documents follow this run's document order
    (read from the file's doc_id column itself, not from the state written beside it)."""
    kept_positions = np.array([position[doc_id] for doc_id in kept_ids.to_pylist()], dtype=np.int64)
    last = -1
    with open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(columns=["doc_id"], batch_size=ROWS_PER_FRAME):
            found = pc.index_in(batch.column(0), value_set=kept_ids).drop_null().to_numpy()
            positions = kept_positions[found]
            if len(positions) and (positions[0] < last or (np.diff(positions) < 0).any()):
                return False
            last = int(positions[-1]) if len(positions) else last
    return True


def in_document_order(streams: list[Iterator[pd.DataFrame]], position: dict[str, int]) -> Iterator[pd.DataFrame]:
    """Mention tables of several streams, each in document order, merged into one stream
    in document order (within a document: by start, then mention_id). All of a
    document's rows come from one stream. A table goes out as soon as no stream can
    still hold rows before it, so about one table per stream is held at a time."""
    try:
        yield from _merged(streams, position)
    finally:
        # a failure downstream must not leave a stream's workers running or its file open
        for stream in streams:
            close = getattr(stream, "close", None)
            if close is not None:
                close()


def _merged(streams: list[Iterator[pd.DataFrame]], position: dict[str, int]) -> Iterator[pd.DataFrame]:
    held: list[pd.DataFrame | None] = [None] * len(streams)
    live = list(range(len(streams)))
    pending = list(live)
    while True:
        for i in pending:
            part = next((p for p in streams[i] if len(p)), None)
            if part is None:
                live.remove(i)
                continue
            part = part.assign(_position=[position[d] for d in part["doc_id"].tolist()])
            before = held[i]
            if not part["_position"].is_monotonic_increasing or (
                before is not None and part["_position"].iat[0] < before["_position"].iat[-1]
            ):
                raise RuntimeError("mention rows out of document order")  # a bug, not bad input
            held[i] = part if before is None else pd.concat([before, part], ignore_index=True)
        # a live stream's rows before its last held document are complete
        limit = min(int(held[i]["_position"].iat[-1]) for i in live) if live else sys.maxsize
        ready = []
        for i, part in enumerate(held):
            if part is None:
                continue
            done = part["_position"] < limit
            if done.any():
                ready.append(part[done])
                rest = part[~done]
                held[i] = rest.reset_index(drop=True) if len(rest) else None
        if ready:
            out = pd.concat(ready, ignore_index=True).sort_values(["_position", "start", "mention_id"])
            yield canonical_mentions(out.drop(columns="_position"))
        if not live:
            return
        pending = [i for i in live if int(held[i]["_position"].iat[-1]) == limit]


ROWS_PER_FRAME = 10_000


def row_frames(rows: Iterator[tuple[Any, ...]]) -> Iterator[pd.DataFrame]:
    """Rows gathered into tables of ROWS_PER_FRAME: a table holds a mention in a
    fraction of the memory of a Python tuple of strings, which matters for the
    hundreds of thousands of mentions of a huge document."""
    buffer: list[tuple[Any, ...]] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= ROWS_PER_FRAME:
            yield canonical_mentions(pd.DataFrame(buffer, columns=MENTION_COLUMNS))
            buffer = []
    if buffer:
        yield canonical_mentions(pd.DataFrame(buffer, columns=MENTION_COLUMNS))


def _previous_state(processed_dir: Path, key: str) -> pd.DataFrame | None:
    """doc_id and content hash of the last run's documents, where their mentions can be
    reused: made by the same extractor and still readable."""
    state_path, mentions_path = processed_dir / EXTRACT_STATE_FILE, processed_dir / MENTIONS_FILE
    if not (state_path.is_file() and mentions_path.is_file()):
        return None
    try:
        state = pd.read_parquet(state_path)
        columns = pq.ParquetFile(mentions_path).schema_arrow.names
    except (OSError, ValueError):
        return None  # unreadable leftovers: process everything again
    if state.empty or set(state["extractor"]) != {key} or columns != MENTION_COLUMNS:
        return None
    return state
