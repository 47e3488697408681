"""The development set (../shared/devset: 30 press texts with gold annotations), end to end.

Floors are the scores measured when they were set (see the README's "Measuring"
section), rounded down by about one mention, so a regression fails here. Nothing
in the pipeline reads these files; they are a measuring stick."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import SHARED, write_run_config

pytestmark = pytest.mark.slow
DEVSET = SHARED / "devset"
# measured with the fallback model of 3,000 steps (key 4a98f62e9203) on 2026-12-02: PER 0.995,
# LOC 0.955, ORG 0.938. Floors sit a little below: training is not bit-identical across
# CPUs, and models of the same recipe trained on two machines differed by up to 0.015 here.
FLOORS = {"PER": 0.97, "LOC": 0.93, "ORG": 0.91}


@pytest.fixture(scope="module")
def devset_run(tmp_path_factory):
    if not (DEVSET / "docs").is_dir():
        pytest.fail(f"{DEVSET} missing: tests need ../shared beside the checkout")
    folder = tmp_path_factory.mktemp("devset")
    config = write_run_config(folder)
    text = config.read_text(encoding="utf-8")
    raw_line = next(line for line in text.splitlines() if line.startswith("raw_dir"))
    config.write_text(text.replace(raw_line, f'raw_dir = "{DEVSET / "docs"}"'), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["evaluate", "--config", str(config), "--gold-dir", str(DEVSET)])
    assert result.exit_code == 0, result.output
    return folder, config


def test_devset_quality_does_not_regress(devset_run):
    folder, _ = devset_run
    scores = json.loads((folder / "processed" / "evaluation.json").read_text(encoding="utf-8"))
    mentions = scores["mentions"]
    for label, floor in FLOORS.items():
        assert mentions[label]["exact"]["f1"] >= floor, (label, mentions[label]["missed"], mentions[label]["extra"])
    # measured: B-cubed F1 0.977; discrepancies precision 0.955, recall 1.0; canonical names
    # 1.0. Before the rules found what that machine's model missed (given names of many
    # countries, bodies named by their kind, surname-only misspellings), the recall was
    # 0.909, 0.879 and 0.818 with models of the same recipe from three machines. The
    # floor is the project's target.
    assert scores["clusters"]["b_cubed"]["f1"] >= 0.97, scores["clusters"]["b_cubed"]
    assert scores["clusters"]["rows_with_two_gold_persons"] == []
    assert scores["discrepancies"]["precision"] >= 0.9, scores["discrepancies"]["wrong"]
    assert scores["discrepancies"]["recall"] >= 0.9, scores["discrepancies"]["missed"]
    assert scores["canonical_names"]["share"] >= 0.95, scores["canonical_names"]["wrong"]


def test_every_unmerged_candidate_pair_is_in_front_of_the_reviewer(devset_run):
    folder, config = devset_run
    processed = folder / "processed"
    pairs = pd.read_parquet(processed / "candidate_pairs.parquet")
    unmerged = pairs[pairs["entity_a"] != pairs["entity_b"]]
    entities = set(pd.read_parquet(processed / "entities.parquet")["entity_id"])
    unmerged = unmerged[unmerged["entity_a"].isin(entities) & unmerged["entity_b"].isin(entities)]
    duplicates = pd.read_parquet(processed / "possible_duplicates.parquet")
    listed = {frozenset(p) for p in duplicates[["entity_a", "entity_b"]].values}
    page = (processed / "discrepancies.html").read_text(encoding="utf-8")
    listing = CliRunner().invoke(app, ["review", "list", "--config", str(config)]).output
    for row in unmerged.itertuples(index=False):
        assert frozenset((row.entity_a, row.entity_b)) in listed, row
    for row in duplicates.itertuples(index=False):
        assert f'id="{row.pair_id}"' in page and row.pair_id in listing
        assert f"presseabgleich review same {row.entity_a} {row.entity_b}" in page
