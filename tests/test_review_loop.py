"""Discrepancy report and review loop on the sample corpus (slow: full pipeline)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.columns import read_table_csv
from tests.conftest import REPO, SEEDS, write_run_config

pytestmark = pytest.mark.slow


def read(path: Path) -> pd.DataFrame:
    return read_table_csv(path)


def test_report_has_exactly_the_two_real_discrepancies(sample_run):
    report = read(sample_run / "discrepancies.csv")
    gold = pd.read_csv(SEEDS / "gold_discrepancies.csv")
    assert len(gold[gold["kind"] != "benign"]) == 2
    assert len(report) == 2, report[["kind", "variants"]]
    by_kind = report.set_index("kind")
    luengen = by_kind.loc["typo"]
    assert set(luengen["variants"].split(" | ")) == {"David A. Lüngen", "David A. Längen"}
    assert luengen["suggested"] == "" and luengen["status"] == "open"
    asli = by_kind.loc["encoding"]
    assert set(asli["variants"].split(" | ")) == {"Aslý Sevindim", "Asli Sevindim"}
    assert asli["suggested"] == "Aslı Sevindim"
    page = (sample_run / "discrepancies.html").read_text(encoding="utf-8")
    assert page.count("<section class='card") == 2 and "<mark>David A. Längen</mark>" in page
    assert "<h2>David A. Längen / David A. Lüngen" in page
    assert "href='../../" not in page or "hagen-pressemitteilung-2025-01-30.md" in page


def run_cli(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_decision_sticks_and_the_decisions_file_is_never_touched(tmp_path):
    config = str(write_run_config(tmp_path))
    run_cli(["run", "--config", config])
    people = read(tmp_path / "processed" / "people.csv")
    luengen = people[people["variants"].str.contains("Lüngen")].iloc[0]
    assert luengen["canonical_status"] == "undecided"
    run_cli(["review", "rename", luengen["entity_id"], "David A. Lüngen", "--reviewer", "test", "--config", config])
    decisions = tmp_path / "decisions.csv"
    with open(decisions, "a", encoding="utf-8") as handle:  # a stale hand-written decision
        handle.write("99,rename,P-0000000000,Niemand,,hand,,\r\n")
    before = decisions.read_bytes()
    output = run_cli(["run", "--config", config])
    assert decisions.read_bytes() == before
    people = read(tmp_path / "processed" / "people.csv").set_index("entity_id")
    assert people.loc[luengen["entity_id"], "canonical_name"] == "David A. Lüngen"
    assert people.loc[luengen["entity_id"], "canonical_status"] == "decided"
    report = read(tmp_path / "processed" / "discrepancies.csv").set_index("entity_id")
    assert report.loc[luengen["entity_id"], "status"] == "decided"
    assert (report["status"] == "open").sum() == 1
    assert "decision 99" in output and "no longer matches" in output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_a_run_leaves_earlier_outputs_intact(tmp_path, sig):
    config = str(write_run_config(tmp_path))
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("decision_id,action,entity_id,value\n1,rename,P-x,Name\n", encoding="utf-8")
    run_cli(["run", "--config", config])
    processed = tmp_path / "processed"
    before = snapshot(processed)
    decisions_before = decisions.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--config", config],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    # stop the run as soon as it is inside its stages (ingest has rewritten its files)
    for line in process.stderr:
        if line.startswith("ingest:"):
            break
    process.send_signal(sig)
    process.wait(timeout=120)
    assert process.returncode != 0, "the run finished before it could be stopped"
    after = snapshot(processed)
    leftovers = [name for name in after if name.endswith(".tmp")]
    if sig == signal.SIGINT:
        assert leftovers == []
    for name, content in before.items():
        if name == "run_info.json":  # says what this run processed: complete, not identical
            json.loads(after[name])
            continue
        assert after[name] == content, f"{name} changed or was half-written"
    assert decisions.read_bytes() == decisions_before
    # the next run cleans up and finishes normally
    run_cli(["run", "--config", config])
    assert not [p for p in processed.iterdir() if p.name.endswith(".tmp")]


def test_review_notebook_executes(sample_run):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "notebooks" / "review.ipynb", as_version=4)
    os.environ["PRESSEABGLEICH_PROCESSED"] = str(sample_run)
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
        ).execute()
    finally:
        os.environ.pop("PRESSEABGLEICH_PROCESSED")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "people" in text and "encoding" in text
    charts = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(charts) == 1  # shown inline, not written by a headless backend


def test_the_log_lists_open_discrepancies_up_to_the_configured_limit(sample_run, tmp_path):
    import shutil

    shutil.copytree(sample_run, tmp_path / "processed")
    config = write_run_config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + "[report]\nlog_open_limit = 1\n", encoding="utf-8")
    output = run_cli(["report", "--config", str(config)])
    listed = [line for line in output.splitlines() if line.startswith("        typo") or "encoding  " in line]
    assert len(listed) == 1
    assert "… and 1 more (encoding 1, typo 1 in all)" in output
