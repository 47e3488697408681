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
    assert page.count('<section class="card open" id="D-') == 2 and "<mark>David A. Längen</mark>" in page
    assert "<h3>David A. Längen / David A. Lüngen" in page
    assert "presseabgleich review rename" in page  # the undecided name says how to decide it
    assert 'href="../../' not in page or "hagen-pressemitteilung-2025-01-30.md" in page


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
    assert "Warnung: Entscheidung 99" in output and "veraltet" in output and "not in the ID registry" in output


def outputs(folder: Path) -> dict[str, bytes]:
    """Every table and page a run writes (the run's own log of timings aside)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in [*sorted(folder.iterdir()), *sorted(folder.glob("show/*"))]  # the document pages too
        if p.is_file() and p.suffix in {".csv", ".parquet", ".html"} and p.name != "evaluation.csv"
    }


def test_a_merge_holds_over_three_reruns_from_a_fresh_start(tmp_path):
    config = str(write_run_config(tmp_path))
    run_cli(["run", "--config", config])
    people = read(tmp_path / "processed" / "people.csv")
    first, second = people["entity_id"].iloc[0], people["entity_id"].iloc[1]
    run_cli(["review", "merge", first, second, "--config", config, "--note", "dieselbe Person"])
    runs = []
    for _ in range(3):
        output = run_cli(["run", "--config", config])
        assert "warning" not in output, output
        people = read(tmp_path / "processed" / "people.csv")
        assert not people["entity_id"].duplicated().any()
        assert second not in set(people["entity_id"]) and first in set(people["entity_id"])
        assert second in people.set_index("entity_id").loc[first, "merged_ids"]
        runs.append(outputs(tmp_path / "processed"))
    assert runs[1] == runs[2]  # unchanged input, the same decisions: the same bytes
    statuses = pd.read_parquet(tmp_path / "processed" / "decision_status.parquet")
    assert list(statuses["status"]) == ["applied"]
    # undo: the two come apart again, each with its own ID
    run_cli(["review", "undo", "1", "--config", config])
    run_cli(["run", "--config", config])
    people = read(tmp_path / "processed" / "people.csv")
    assert {first, second} <= set(people["entity_id"])


def test_every_kind_of_decision_reruns_byte_identical(tmp_path):
    config = str(write_run_config(tmp_path))
    run_cli(["run", "--config", config])
    people = read(tmp_path / "processed" / "people.csv")
    places = read(tmp_path / "processed" / "places.csv")
    several = people[people["n_documents"].astype(int) >= 2]["entity_id"]  # a split leaves it some mentions
    c = several.iloc[0]
    a, b, d = [e for e in people["entity_id"] if e != c][:3]
    mention = read(tmp_path / "processed" / "mentions.csv")
    mention = mention[mention["entity_id"] == c].iloc[0]
    for args in (
        ["same", a, b],
        ["not-same", c, d],
        ["rename", c, "Neuer Name"],
        ["retype", places["entity_id"].iloc[0], "ORG"],
        ["ignore", places["entity_id"].iloc[1]],
        ["split", c, "--mention", f"{mention['doc_id']}: {mention['text']}"],
        ["unsure", a, d],
    ):
        run_cli(["review", *args, "--config", config])
    run_cli(["review", "undo", "1", "--config", config])
    runs = []
    for _ in range(3):
        run_cli(["run", "--config", config])
        runs.append(outputs(tmp_path / "processed"))
    assert runs[0] == runs[1] == runs[2]
    statuses = pd.read_parquet(tmp_path / "processed" / "decision_status.parquet")
    assert set(statuses["status"]) <= {"applied", "retracted"}, statuses
    listing = run_cli(["review", "list", "--all", "--config", config])
    assert "entschieden" in listing or "unsicher" in listing


def test_a_run_that_cannot_find_the_decisions_stops_instead_of_undoing_them(tmp_path):
    config = write_run_config(tmp_path)
    run_cli(["run", "--config", str(config)])
    people = read(tmp_path / "processed" / "people.csv")
    run_cli(["review", "rename", people["entity_id"].iloc[0], "Geprüfter Name", "--config", str(config)])
    run_cli(["run", "--config", str(config)])
    before = outputs(tmp_path / "processed")
    # the same processed folder, but decisions and IDs looked for elsewhere (another working folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = config.read_text(encoding="utf-8").replace(str(tmp_path / "decisions.csv"), str(elsewhere / "d.csv"))
    (elsewhere / "presseabgleich.toml").write_text(moved, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(elsewhere / "presseabgleich.toml")])
    assert result.exit_code == 1
    assert str(tmp_path / "decisions.csv") in result.output and "Nothing was overwritten" in result.output
    assert outputs(tmp_path / "processed") == before
    # review finds the decisions where the run that made the outputs found them
    output = run_cli(["review", "list", "--processed-dir", str(tmp_path / "processed")])
    assert "Abweichungen" in output
    run_cli(["review", "rename", people["entity_id"].iloc[1], "Name B", "--processed-dir", str(tmp_path / "processed")])
    assert (tmp_path / "decisions.csv").read_text(encoding="utf-8-sig").count("\n") == 3


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_a_run_leaves_earlier_outputs_intact(tmp_path, sig):
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(REPO / "data" / "raw", raw)
    config_file = write_run_config(tmp_path)
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(str(REPO / "data" / "raw"), str(raw)), encoding="utf-8"
    )
    config = str(config_file)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("decision_id,action,entity_id,value\n1,rename,P-x,Name\n", encoding="utf-8")
    run_cli(["run", "--config", config])
    processed = tmp_path / "processed"
    before = snapshot(processed)
    decisions_before = decisions.read_bytes()
    # a new document: the run loads the model and extracts it, so the signal lands inside
    # the stages however fast the machine (with nothing new the rest of a run takes ~1 s)
    sample = sorted(raw.iterdir())[0]
    (raw / "neu.txt").write_text(sample.read_text(encoding="utf-8") + "\n\nNachtrag der Redaktion.", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--config", config],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # Ctrl-C as a terminal delivers it: a child inherits an ignored SIGINT (a library in
        # this test process may ignore it), and Python then never turns it into KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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
    from pipeline.ingest.stage import DOCUMENTS_FILE, ERRORS_FILE, INGEST_STATE_FILE

    for name, content in before.items():
        if name in (DOCUMENTS_FILE, ERRORS_FILE, INGEST_STATE_FILE):  # ingest finished: its new files, whole
            if name == DOCUMENTS_FILE:
                assert "neu" in set(pd.read_parquet(processed / name)["doc_id"])
            continue
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
    assert "… und 1 weitere (insgesamt encoding 1, typo 1) in " in output
