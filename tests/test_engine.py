"""The Dask engine (issue 14): on a real 2-worker LocalCluster it writes the same bytes as
the local engine, incrementally too, loads the model once per worker, and says in one
line when the scheduler cannot be reached."""

import json
import os
import shutil
import socket
from pathlib import Path

import dask
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.engine import DaskSession, worker_counts
from tests.conftest import REPO, SHARED, write_run_config

DEVSET_DOCS = SHARED / "devset" / "docs"


def run_config(folder: Path, raw: Path) -> Path:
    config = write_run_config(folder)
    text = config.read_text(encoding="utf-8")
    raw_line = next(line for line in text.splitlines() if line.startswith("raw_dir"))
    config.write_text(text.replace(raw_line, f'raw_dir = "{raw}"'), encoding="utf-8")
    return config


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def csvs(processed: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(processed.glob("*.csv"))}


@pytest.fixture(scope="module")
def cluster():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as local,
        Client(local) as client,
    ):
        yield local.scheduler_address, client


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cluster):
    """The dev set through both engines, then one added document through both again."""
    if not DEVSET_DOCS.is_dir():
        pytest.fail(f"{DEVSET_DOCS} missing: tests need ../shared beside the checkout")
    address, client = cluster
    base = tmp_path_factory.mktemp("engine")
    raw = base / "raw"
    shutil.copytree(DEVSET_DOCS, raw)
    folders = {name: base / name for name in ("local", "dask")}
    options = {"local": [], "dask": ["--engine", "dask", "--scheduler", address]}
    outputs: dict[str, dict] = {"full": {}, "incremental": {}}
    with pytest.MonkeyPatch.context() as patch:
        # the dev set's ~1,000 names as several normalisation tasks, not one batch in the client
        patch.setattr("pipeline.resolve.forms.NORMALISE_BATCH", 100)
        for name, folder in folders.items():
            folder.mkdir()
            invoke("run", "--config", str(run_config(folder, raw)), *options[name])
            outputs["full"][name] = csvs(folder / "processed")
    outputs["counts_after_full"] = client.run(worker_counts)
    outputs["task_prefixes"] = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    # a new press release (not in the dev set) joins the folder
    shutil.copy(REPO / "data" / "raw" / "herne-fachtag-2025-01-22.txt", raw / "herne-neu.txt")
    for name, folder in folders.items():
        outputs["log_" + name] = invoke("run", "--config", str(folder / "presseabgleich.toml"), *options[name])
        outputs["incremental"][name] = csvs(folder / "processed")
        outputs["run_info_" + name] = json.loads((folder / "processed" / "run_info.json").read_text(encoding="utf-8"))
    outputs["counts_after_incremental"] = client.run(worker_counts)
    return outputs


@pytest.mark.slow
def test_dask_run_writes_the_same_csvs_as_the_local_run(runs):
    local, dask_run = runs["full"]["local"], runs["full"]["dask"]
    assert {"people.csv", "places.csv", "organisations.csv", "mentions.csv"} <= set(local)
    assert set(dask_run) == set(local)
    for name in local:
        assert dask_run[name] == local[name], name


@pytest.mark.slow
def test_an_added_document_is_the_only_one_extracted_and_the_outputs_stay_identical(runs):
    for name in ("local", "dask"):
        assert runs["run_info_" + name]["processed"] == 1, runs["log_" + name]
        assert runs["run_info_" + name]["documents"] == 31
    from pipeline.messages import MESSAGES

    said = MESSAGES["extract.processed"]["de"].format(processed=1, reused=30)
    assert said in runs["log_dask"], runs["log_dask"]
    assert runs["incremental"]["dask"] == runs["incremental"]["local"]
    assert runs["incremental"]["dask"]["mentions.csv"] != runs["full"]["dask"]["mentions.csv"]


@pytest.mark.slow
def test_the_model_loads_once_per_worker_not_once_per_batch(runs):
    full, incremental = runs["counts_after_full"], runs["counts_after_incremental"]
    assert len(full) == 2
    assert all(counts["builds"] == 1 for counts in full.values()), full
    assert sum(counts["batches"] for counts in full.values()) > 2, full  # more batches than workers
    # the second run on the same cluster reuses the workers' pipelines
    assert all(counts["builds"] == 1 for counts in incremental.values()), incremental
    assert sum(c["batches"] for c in incremental.values()) == sum(c["batches"] for c in full.values()) + 1


@pytest.mark.slow
def test_every_stage_but_clustering_runs_as_tasks_on_the_workers(runs):
    expected = {"read_batch", "extract_task", "normalise_batch"}  # dask drops a leading "_"
    assert expected <= set(runs["task_prefixes"]), runs["task_prefixes"]


def test_names_normalised_in_batches_elsewhere_are_the_names_normalised_here(monkeypatch):
    import pipeline.resolve.forms as forms
    from pipeline.gazetteers import load_gazetteers

    texts = [("PER", "Dr. Aylin Demir"), ("LOC", "Hagener"), ("ORG", "der Stadtwerke Hagen"), ("PER", "Demir")] * 3
    texts += [("PER", f"Jonas Kröger{i}") for i in range(7)]
    mentions = pd.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(len(texts))],
            "label": [label for label, _ in texts],
            "text": [text for _, text in texts],
            "titles": "",
            "roles": "",
        }
    )
    gaz = load_gazetteers()
    here, names_here = forms.normalise_mentions(mentions, gaz)
    monkeypatch.setattr(forms, "NORMALISE_BATCH", 3)  # several batches, and a last short one
    batches_seen = []

    def mapper(function, batches):
        for batch in batches:
            batches_seen.append(len(batch))
            yield function(batch)

    elsewhere, names_elsewhere = forms.normalise_mentions(
        mentions, gaz, known={("PER", "Demir"): names_here[("PER", "Demir")]}, mapper=mapper
    )
    assert batches_seen == [3, 3, 3, 1]  # 11 distinct names, one of them known
    assert names_elsewhere == names_here and list(names_elsewhere) == list(names_here)
    pd.testing.assert_frame_equal(elsewhere, here)


def test_ingest_on_its_own_local_cluster_reads_the_same_documents(tmp_path):
    rows = {}
    for name, options in (("local", []), ("dask", ["--engine", "dask"])):
        folder = tmp_path / name
        folder.mkdir()
        output = invoke("ingest", "--config", str(run_config(folder, DEVSET_DOCS)), *options)
        rows[name] = pd.read_parquet(folder / "processed" / "documents.parquet")
        if name == "dask":
            assert "engine: Dask, " in output and "bei einem LocalCluster auf diesem Rechner" in output
    assert len(rows["local"]) == 30
    pd.testing.assert_frame_equal(rows["dask"], rows["local"])


def test_an_unreachable_scheduler_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    config = run_config(tmp_path, DEVSET_DOCS)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = CliRunner().invoke(app, ["run", "--config", str(config), "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # said, not raised
    errors = [line for line in result.output.splitlines() if line.startswith("Fehler:")]
    assert len(errors) == 1 and errors[0].startswith(f"Fehler: der Dask-Scheduler unter {address} ist nicht erreichbar")
    assert "Traceback" not in result.output
    assert not (tmp_path / "processed" / "documents.parquet").exists()


def test_an_unknown_engine_is_a_config_error(tmp_path):
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(tmp_path), "--engine", "spark"])
    assert result.exit_code == 1
    assert "Fehler: engine.kind: 'spark' is not one of local, dask" in result.output


def _worker_settings() -> tuple[str | None, bool]:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled")


def test_the_cluster_it_starts_itself_runs_workers_without_the_profiler_or_a_fixed_trim_threshold(monkeypatch):
    # as in a fresh command: any earlier LocalCluster of this process exported dask's value
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    session = DaskSession("", log=lambda message: None)
    try:
        settings = session.client.run(_worker_settings)
    finally:
        session.close()
    assert len(settings) >= 1
    assert set(settings.values()) == {(None, False)}, settings
