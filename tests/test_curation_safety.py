"""What a reviewer or a colleague wrote, and earlier outputs, survive kills, full disks and a second run."""

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.export import write_workbook
from pipeline.review.report import file_link
from tests.conftest import REPO, write_run_config


def test_links_to_odd_file_names_stay_files():
    assert file_link("javascript:alert(1).txt") == "./javascript%3Aalert%281%29.txt"
    assert file_link("../raw/Bericht #3 100%.txt") == "../raw/Bericht%20%233%20100%25.txt"


def test_a_workbook_writer_whose_run_is_gone_replaces_nothing(tmp_path: Path):
    target = tmp_path / "presseabgleich.xlsx"
    target.write_bytes(b"newer workbook")
    with pytest.raises(SystemExit):
        write_workbook({"Personen": pd.DataFrame({"a": [1]})}, target, parent_pid=os.getppid() + 12345)
    assert target.read_bytes() == b"newer workbook"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def waiting_until_released(lock_file: Path, command: list[str], said: str, check: Callable[[], None]) -> int:
    """Starts `presseabgleich COMMAND` while `lock_file` is held: it says `said` first and
    waits (`check` runs while it does); released, it runs. Returns its exit code."""
    lock = FileLock(str(lock_file))
    lock.acquire()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *command],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = process.stderr.readline()
        assert said in first, first
        time.sleep(1)
        assert process.poll() is None  # still waiting
        check()
    finally:
        lock.release()
    return process.wait(timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "ingest", "report"])
def test_a_second_run_on_one_processed_folder_waits_for_the_first(tmp_path: Path, command: str):
    """A run, and a stage run alone, wait for the lock of a run already on the folder."""
    config = write_run_config(tmp_path)
    processed = tmp_path / "processed"
    processed.mkdir()

    def nothing_written() -> None:
        assert sorted(p.name for p in processed.iterdir()) == [".presseabgleich.lock"]

    code = waiting_until_released(
        processed / ".presseabgleich.lock",
        [command, "--config", str(config)],
        "ein anderer Lauf schreibt gerade in",
        nothing_written,
    )
    assert code == 0 or command == "report"  # a report without inputs says so and stops
    assert (processed / "documents.parquet").exists() == (command != "report")


@pytest.mark.slow
def test_a_resolve_waits_for_another_run_writing_the_shared_id_registry(tmp_path: Path, sample_run):
    """Two processed folders may share one registry (each folder has its own run lock):
    resolve reads and writes it under the registry's own lock."""
    import shutil

    config = write_run_config(tmp_path)
    shutil.copytree(sample_run, tmp_path / "processed")
    registry = tmp_path / "entity_ids.csv"
    shutil.copy(sample_run.parent / "entity_ids.csv", registry)
    before = registry.read_bytes()

    def registry_as_it_was() -> None:
        assert registry.read_bytes() == before

    code = waiting_until_released(
        tmp_path / ".entity_ids.csv.lock",
        ["resolve", "--config", str(config)],
        "ein anderer Lauf schreibt gerade die ID-Liste",
        registry_as_it_was,
    )
    assert code == 0
    assert registry.read_bytes() == before  # the same entities, the same IDs


def test_the_lock_file_of_the_decisions_is_our_own_output_not_an_input(tmp_path: Path, monkeypatch):
    """`--raw-dir .` where `review` has left data/decisions.csv.lock: a note, not a skipped file."""
    from pipeline.review.decisions import decisions_lock

    monkeypatch.chdir(tmp_path)
    (tmp_path / "meldung.txt").write_text("Meldung\n\nHagen, 3. März 2025 – Text.", encoding="utf-8")
    (tmp_path / "data").mkdir()
    decisions_lock(tmp_path / "data" / "decisions.csv").touch()
    result = CliRunner().invoke(app, ["--language", "en", "ingest", "--raw-dir", ".", "--processed-dir", "out"])
    assert result.exit_code == 0, result.output
    assert "skipped: 0" in result.output and "decisions.csv.lock: own output" in result.output


def test_ingest_of_a_missing_input_folder_leaves_no_processed_folder(tmp_path: Path):
    result = CliRunner().invoke(
        app, ["ingest", "--raw-dir", str(tmp_path / "nicht-da"), "--processed-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "nicht-da" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_full_disk_is_one_line_naming_the_file_and_the_old_outputs_stay(tmp_path: Path):
    config = write_run_config(tmp_path)
    assert CliRunner().invoke(app, ["run", "--config", str(config)]).exit_code == 0
    processed = tmp_path / "processed"
    before = {p.name: p.read_bytes() for p in processed.iterdir() if p.suffix in {".csv", ".xlsx"}}
    (tmp_path / f".{'entity_ids.csv'}.killed.tmp").write_text("half", encoding="utf-8")

    def small_files() -> None:  # files may grow to 2 KB: the tables do not fit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "export", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=300,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Fehler")]
    # one line per file that could not be written (the tables, and the workbook beside them)
    assert 1 <= len(errors) <= 2, result.stderr
    assert all(
        "kann nicht geschrieben werden" in e and "File too large" in e and "vorige Fassung ist unverändert" in e
        for e in errors
    )
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in processed.iterdir() if p.suffix in {".csv", ".xlsx"}} == before
    # the next full run clears what a killed run left beside the ID registry
    assert CliRunner().invoke(app, ["run", "--config", str(config)]).exit_code == 0
    assert not list(tmp_path.glob(".entity_ids.csv.*.tmp"))
