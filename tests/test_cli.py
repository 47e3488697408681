"""The command line as a new user meets it: version, help, no model, Windows."""

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from pipeline.cli import app, login_name
from pipeline.model_install import install_model, is_installed, model_wheel_url
from tests.conftest import REPO

COMMANDS = [
    ["ingest"],
    ["extract"],
    ["resolve"],
    ["export"],
    ["report"],
    ["run"],
    ["evaluate"],
    ["train-model"],
    ["install-model"],
    ["show"],
    ["review", "list"],
    ["review", "accept"],
    ["review", "rename"],
    ["review", "split"],
    ["review", "merge"],
]


def help_text(*command: str) -> str:
    """--help output as one line: rich's box borders and line breaks taken out."""
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("presseabgleich 0.")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_help_shows_defaults_and_an_example(command):
    text = help_text(*command)
    assert f"Example: presseabgleich {' '.join(command)}" in text
    if "--config" in text:  # every command but the two that take no options
        assert "[default: (./presseabgleich.toml if it exists)]" in text


def test_help_shows_the_configured_defaults():
    text = help_text("run")
    assert "[default: (data/raw, config paths.raw_dir)]" in text
    assert "[default: (excel-de, config export.csv_dialect)]" in text


@pytest.mark.skipif(is_installed("de_core_news_sm"), reason="de_core_news_sm is installed here")
def test_no_model_and_no_training_data_gives_one_message_and_exit_1(tmp_path):
    env = {**os.environ, "PRESSEABGLEICH_NER_DATA": str(tmp_path / "nowhere"), "PRESSEABGLEICH_CACHE": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--raw-dir", str(REPO / "data" / "raw")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("Fehler:") == 1 and "kein deutsches Modell" in result.stderr
    assert f"{sys.executable} -m spacy download de_core_news_sm" in result.stderr
    assert "PRESSEABGLEICH_NER_DATA=" in result.stderr and str(tmp_path / "nowhere") in result.stderr
    assert not (tmp_path / "data" / "processed" / "documents.parquet").exists()  # said before any work


def test_the_model_wheel_is_the_release_for_this_spacy():
    assert model_wheel_url("de_core_news_sm", "3.8.7") == (
        "https://github.com/explosion/spacy-models/releases/download/"
        "de_core_news_sm-3.8.0/de_core_news_sm-3.8.0-py3-none-any.whl"
    )


def test_installing_a_model_that_cannot_be_had_fails_quickly_without_raising():
    notes: list[str] = []
    started = time.perf_counter()
    # no such release: a 404 with internet, a name error without; never an exception
    assert install_model("presseabgleich_no_such_model", time_limit_s=60, log=notes.append) is False
    assert time.perf_counter() - started < 60
    assert notes[-1].startswith("Hinweis: presseabgleich_no_such_model konnte nicht installiert werden")
    assert install_model("presseabgleich_no_such_model", time_limit_s=0.01, log=notes.append) is False
    assert "abgebrochen" in notes[-1]


def test_reviewer_name_without_user_variable(monkeypatch):
    for variable in ("LOGNAME", "USER", "LNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("USERNAME", "pressestelle")  # what Windows sets
    assert login_name() == "pressestelle"


def test_extraction_code_imports_without_fcntl():
    """Windows has no fcntl: the extraction code and the CLI must not need it."""
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import pipeline.extract, pipeline.model, pipeline.cli, pipeline.io, pipeline.export\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_pip_failures_are_said_in_a_few_words():
    from pipeline.model_install import pip_failure

    offline = (
        "ERROR: Could not install packages due to an OSError: HTTPSConnectionPool(host='github.com', port=443): "
        "Max retries exceeded (Caused by NewConnectionError('<obj>: Failed to establish a new connection: "
        "[Errno -2] Name or service not known'))\n"
    )
    assert pip_failure(offline) == "[Errno -2] Name or service not known"
    assert pip_failure("ERROR: No matching distribution\nhint: something long\n") == "ERROR: No matching distribution"


def test_the_commands_that_read_the_outputs_do_not_import_spacy():
    """`show`, `report`, `resolve` and `evaluate` on gold files start without the ~1 s
    of importing spaCy: they read extraction's file names from pipeline.stage_files."""
    modules = ["pipeline.review.report", "pipeline.show", "pipeline.resolve", "pipeline.evaluate", "pipeline.export"]
    code = f"import sys; import {', '.join(modules)}; print('spacy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
