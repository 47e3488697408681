"""The Dask engine (config `[engine] kind = "dask"`): ingest and extraction as tasks
over batches of documents on a `dask.distributed` cluster.

The tasks are the pure functions the local engine runs: `read_batch` (a batch of
files → document rows) and `extract_batch` (a batch of documents → mention rows).
The model loads once per worker process (`ModelPlugin`), never once per task; at
most two batches per worker thread are in flight, and results come back in
document order, so a Dask run writes the same bytes as a local run. Resolve
normalises the new distinct names as tasks too (`normalise_batch`, via
`batch_mapper`); clustering, IDs, export and report stay in the client process.

On a real cluster every worker must see the input folder under the same path and
load the same model: de_core_news_sm installed in its environment, or the fallback
model's cache folder (`ModelInfo.path`, ~/.cache/presseabgleich/models by default)
at the same path. A worker whose model or pipeline code differs from the client's
is refused, since its mentions would differ.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from pipeline.ingest.problems import IngestProblem
from pipeline.ingest.stage import BatchReader, Document, FileTask, read_batch
from pipeline.messages import say
from pipeline.model import ModelInfo

if TYPE_CHECKING:  # the extract stage imports spaCy
    from pipeline.extract.batches import DocumentRecord

PLUGIN_NAME = "presseabgleich-model"
FILES_PER_TASK = 64
# Env variable: a logging level (INFO, DEBUG) for dask's own messages; by default
# only its warnings are shown (its INFO lines are start-up chatter).
LOG_ENV = "PRESSEABGLEICH_DASK_LOG"
LOCAL_CLUSTER_CONFIG = {
    # the workers' sampling profiler interrupts every task 100 times a second;
    # on the cores it shares with the tasks that costs more than it tells here
    "distributed.worker.profile.enabled": False,
    # dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's
    # adaptive mmap threshold: the model's array allocations then go to the kernel every
    # time, ~15 % more CPU per extraction batch; None unsets it
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


class EngineError(RuntimeError):
    """The Dask engine cannot run; the message says why in one line."""


class SchedulerUnreachable(EngineError):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(say("engine.unreachable", address=address, reason=reason))


def _quiet_dask_logging() -> int:
    level = logging.getLevelName(os.environ.get(LOG_ENV, "WARNING").upper())
    level = level if isinstance(level, int) else logging.WARNING
    logging.getLogger("distributed").setLevel(level)
    return level


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class DaskSession:
    """The cluster of one CLI invocation, connected on first use: a run with nothing
    to read or extract starts none."""

    def __init__(self, scheduler: str, log: Callable[[str], None]) -> None:
        self.scheduler = scheduler
        self.log = log
        self._client: Any = None
        self._cluster: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._connect()
        return self._client

    def _connect(self) -> None:
        level = _quiet_dask_logging()
        if self.scheduler:
            try:
                # waits up to distributed.comm.timeouts.connect (30 s unless configured)
                self._client = Client(self.scheduler, set_as_default=False)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise SchedulerUnreachable(self.scheduler, str(exc)) from exc
        else:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = LocalCluster(
                    n_workers=_cores(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # any free port, this machine only: never a clash
                    silence_logs=level,
                )
            self._client = Client(self._cluster, set_as_default=False)
        workers = self._client.scheduler_info().get("workers", {})
        where = self.scheduler or say("engine.local_cluster")
        self.log(say("engine.started", workers=len(workers), where=where))

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            # after Ctrl-C or an error, tearing down busy workers makes dask log errors
            # and asyncio report their unread futures: noise beside the one message that matters
            for name in ("distributed", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        with contextlib.suppress(Exception):
            if self._client is not None:
                self._client.close()
        with contextlib.suppress(Exception):
            if self._cluster is not None:
                self._cluster.close()
        self._client = self._cluster = None


_session: DaskSession | None = None  # the one of the running CLI command


@contextlib.contextmanager
def dask_session(config: dict[str, Any], log: Callable[[str], None] = print) -> Iterator[DaskSession | None]:
    """The Dask cluster for the block (None with the local engine). Nested blocks share
    the outer one, so `run` starts one cluster for ingest and extraction; it is closed
    when the outermost block ends, also on Ctrl-C or an error."""
    global _session
    if config["engine"]["kind"] != "dask" or _session is not None:
        yield _session
        return
    session = _session = DaskSession(config["engine"]["scheduler"], log)
    try:
        yield session
    except BaseException:
        _session = None
        session.close(interrupted=True)
        raise
    _session = None
    session.close()


def ordered_results(
    client: Any, function: Callable[..., Any], batches: Iterable[Any], window: int, **kwargs: Any
) -> Iterator[Any]:
    """(batch, function(batch, **kwargs)) of each batch, run as tasks, yielded in the
    batches' order. At most `window` batches are submitted and not yet yielded, so the
    memory of the workers and of this process stays flat in the number of batches."""
    pending = iter(batches)
    outstanding: dict[str, tuple[int, Any, Any]] = {}
    done: dict[int, tuple[Any, Any]] = {}
    queue = as_completed(loop=client.loop)
    submitted = yielded = 0

    def submit() -> None:
        nonlocal submitted
        batch = next(pending, None)
        if batch is not None:
            future = client.submit(function, batch, pure=False, **kwargs)
            outstanding[future.key] = (submitted, batch, future)
            queue.add(future)
            submitted += 1

    try:
        for _ in range(max(1, window)):
            submit()
        for future in queue:
            index, batch, _ = outstanding.pop(future.key)
            done[index] = (batch, future.result())  # a failed task raises its error here
            future.release()
            while yielded in done:
                yield done.pop(yielded)
                yielded += 1
                submit()
    finally:  # Ctrl-C, an error, or a consumer that stopped early: drop the rest
        if outstanding:
            client.cancel([future for _, _, future in outstanding.values()])


def _window(client: Any) -> int:
    return 2 * max(1, sum(client.nthreads().values()))


def batch_mapper(config: dict[str, Any], log: Callable[[str], None] = print) -> Callable[..., Iterator[Any]]:
    """`mapper(function, batches)`: function(batch) of each batch as a task on the cluster,
    results in the batches' order (resolve's per-name work; see normalise_mentions)."""

    def map_on_dask(function: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Any]:
        with dask_session(config, log) as session:
            assert session is not None
            client = session.client
            for _, result in ordered_results(client, function, batches, _window(client)):
                yield result

    return map_on_dask


def file_reader(config: dict[str, Any], log: Callable[[str], None] = print) -> BatchReader:
    """The ingest stage's reader for the Dask engine: batches of files as tasks."""

    def read_on_dask(
        files: list[FileTask], raw_dir: Path, ingest_config: dict[str, Any]
    ) -> Iterator[Document | IngestProblem]:
        """The files' outcomes in order, as they come (a bounded window of batches in flight)."""
        if not files:
            return
        # absolute paths: a worker's working directory need not be ours
        root = Path(os.path.abspath(raw_dir))
        tasks = [(Path(os.path.abspath(path)), doc_id, relative) for path, doc_id, relative in files]
        batches = (tasks[i : i + FILES_PER_TASK] for i in range(0, len(tasks), FILES_PER_TASK))
        with dask_session(config, log) as session:
            assert session is not None
            client = session.client
            for _, part in ordered_results(
                client, read_batch, batches, _window(client), raw_dir=root, config=ingest_config
            ):
                yield from part

    return read_on_dask


# Per worker process: the pipeline built by ModelPlugin, by extractor key, and how
# many pipelines were built and batches extracted (tests check: one build per worker).
_worker_pipelines: dict[str, Any] = {}
_worker_builds = 0
_worker_batches = 0


def worker_counts() -> dict[str, int]:
    """Pipelines built and batches extracted in this worker process (for client.run)."""
    return {"builds": _worker_builds, "batches": _worker_batches}


class ModelPlugin(WorkerPlugin):
    """Builds the extraction pipeline once in each worker process (dask calls `setup`
    when the plugin is registered and on every worker that joins later). Kept per
    process, so a second run on the same cluster reuses it."""

    name = PLUGIN_NAME

    def __init__(self, model_config: dict[str, Any], info: ModelInfo, key: str, max_chunk_chars: int) -> None:
        self.model_config = model_config
        self.info = info
        self.key = key
        self.max_chunk_chars = max_chunk_chars

    def setup(self, worker: Any) -> None:
        global _worker_builds
        from pipeline.extract.batches import build_nlp
        from pipeline.extract.stage import extractor_key

        self.lock = threading.Lock()  # one nlp per process: a worker with several threads takes turns
        if self.key not in _worker_pipelines:
            _worker_pipelines.clear()
            nlp, info = build_nlp(self.model_config, log=lambda message: None, info=deepcopy(self.info))
            if extractor_key(info, self.max_chunk_chars) != self.key:
                raise EngineError(
                    f"worker {worker.address} has another model or other pipeline code than this machine "
                    f"({info.describe()}); install the same presseabgleich and model on every worker"
                )
            _worker_pipelines[self.key] = (nlp, info)
            _worker_builds += 1
        self.nlp, self.worker_info = _worker_pipelines[self.key]


def _extract_task(documents: list[Any], batch_size: int, max_chunk_chars: int) -> list[tuple[Any, ...]]:
    global _worker_batches
    from pipeline.extract.batches import extract_batch

    plugin = get_worker().plugins[PLUGIN_NAME]
    with plugin.lock:
        _worker_batches += 1
        return extract_batch(plugin.nlp, documents, batch_size, max_chunk_chars)


def _worker_components(dask_worker: Any) -> list[str]:  # client.run passes the worker by this name
    return list(dask_worker.plugins[PLUGIN_NAME].worker_info.components)


def extract_on_dask(
    documents: Iterable[DocumentRecord],
    total: int,
    config: dict[str, Any],
    info: ModelInfo,
    log: Callable[[str], None] = print,
) -> Iterator[tuple[Any, ...]]:
    """Mention rows of `documents` ((doc_id, text, offset map) records, `total` of them)
    in document order, extracted by the cluster's workers: the same rows as
    extract_mentions. Sets `info.components` to what the workers run."""
    from tqdm import tqdm

    from pipeline.extract.batches import document_batches
    from pipeline.extract.stage import extractor_key

    extract_config = config["extract"]
    with dask_session(config, log) as session:
        assert session is not None
        client = session.client
        try:
            chunk = extract_config["max_chunk_chars"]
            client.register_plugin(ModelPlugin(config["model"], info, extractor_key(info, chunk), chunk))
        except EngineError:
            raise
        except Exception as exc:  # the worker's error, e.g. no model at that path
            raise EngineError(f"a Dask worker cannot load the model: {type(exc).__name__}: {exc}") from exc
        components = next(iter(client.run(_worker_components).values()), info.components)
        info.components = list(components)
        log(say("model.loaded_on_workers", model=info.describe(), components=", ".join(info.components)))
        batches = document_batches(documents, extract_config["batch_size"], extract_config["max_chunk_chars"])
        progress = total >= extract_config["progress_min_docs"]
        with tqdm(total=total, unit="doc", desc="extract", disable=not progress) as bar:
            for batch, rows in ordered_results(
                client,
                _extract_task,
                batches,
                _window(client),
                batch_size=extract_config["batch_size"],
                max_chunk_chars=extract_config["max_chunk_chars"],
            ):
                yield from rows
                bar.update(len(batch))
