from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import load_config

# the tests expect the default language (German) of the log and the review messages
os.environ.pop("PRESSEABGLEICH_LANGUAGE", None)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PRESSEABGLEICH_SHARED", REPO.parent / "shared"))
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def config() -> dict:
    cfg = load_config()
    cfg["model"]["ner_data_dir"] = str(SHARED / "ner-data" / "germeval2014")
    return cfg


@pytest.fixture(scope="session")
def gold_mentions() -> pd.DataFrame:
    path = SEEDS / "gold_mentions.csv"
    if not path.is_file():
        pytest.fail(f"gold file {path} missing: tests need ../shared beside the checkout")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def nlp_and_info(config):
    """The real German pipeline (installed de_core_news_sm or the trained fallback) plus rules."""
    from pipeline.extract import build_nlp

    return build_nlp(config["model"], log=lambda message: None)


def write_run_config(folder: Path) -> Path:
    """A config that keeps every file the run writes (IDs, decisions) inside `folder`."""
    config_file = folder / "presseabgleich.toml"
    config_file.write_text(
        f"""[paths]
raw_dir = "{REPO / "data" / "raw"}"
processed_dir = "{folder / "processed"}"
entity_ids_file = "{folder / "entity_ids.csv"}"
decisions_file = "{folder / "decisions.csv"}"
[model]
ner_data_dir = "{SHARED / "ner-data" / "germeval2014"}"
""",
        encoding="utf-8",
    )
    return config_file


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The whole pipeline over data/raw, as the README's main command runs it."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    folder = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(app, ["run", "--config", str(write_run_config(folder))])
    assert result.exit_code == 0, result.output
    return folder / "processed"


@pytest.fixture(scope="session")
def de_core_news_sm_twin(tmp_path_factory) -> Path:
    """A folder to put on PYTHONPATH in which `de_core_news_sm` is installed: the published
    config and labels of the real model with initialised weights (bench/twin.py)."""
    from bench.twin import PUBLISHED, build_twin, write_package

    if not (PUBLISHED / "config.cfg").is_file():
        pytest.fail(f"{PUBLISHED} missing: tests need ../shared beside the checkout")
    nlp, caught = build_twin()
    assert not caught, caught  # spaCy 3.8 builds the 3.7 config without complaint
    site = tmp_path_factory.mktemp("twin-site")
    write_package(nlp, site)
    return site
