import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.evaluate import score_clusters, score_discrepancies, score_mentions
from tests.conftest import SEEDS


def test_mention_scores_exact_and_partial():
    predicted = pd.DataFrame(
        {
            "doc_id": ["a", "a", "a"],
            "text": ["Herne", "Kommunalen Integrationszentrum der Stadt", "Bochum"],
            "label": ["LOC", "ORG", "PER"],
        }
    )
    gold = pd.DataFrame(
        {
            "doc_id": ["a", "a", "a"],
            "surface": ["Herne", "Kommunalen Integrationszentrum", "Bochum"],
            "type": ["LOC", "ORG", "LOC"],
        }
    )
    scores = score_mentions(predicted, gold)
    assert scores["LOC"]["exact"]["recall"] == 0.5 and scores["LOC"]["exact"]["precision"] == 1.0
    assert scores["ORG"]["exact"]["f1"] == 0.0 and scores["ORG"]["partial"]["f1"] == 1.0
    assert scores["PER"]["exact"]["precision"] == 0.0


def test_cluster_scores_match_hand_computed_b_cubed():
    # gold {1,2,3} {4}; predicted {1,2} {3,4}
    items = pd.DataFrame({"entity_key": ["g1", "g1", "g1", "g2"], "entity_id": ["p1", "p1", "p2", "p2"]})
    scores = score_clusters(items)
    assert scores["b_cubed"]["precision"] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4, abs=1e-4)
    assert scores["b_cubed"]["recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4, abs=1e-4)
    assert scores["pairwise"]["precision"] == 0.5 and scores["pairwise"]["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert scores["gold_entities_split"] == ["g1"] and scores["entities_merging_gold"] == ["p2"]


def test_discrepancy_scores():
    gold = pd.DataFrame(
        {
            "entity_key": ["k1", "k1", "k2", "k3"],
            "variant_a": ["Anna Lüngen", "Lüngen", "Aslı", "Hagen"],
            "variant_b": ["Anna Längen", "Längen", "Aslý", "Hagener"],
            "kind": ["typo", "typo", "encoding", "benign"],
        }
    )
    report = pd.DataFrame(
        {
            "entity_id": ["e1", "e3", "e3"],
            "kind": ["typo", "spelling", "conflicting role"],
            "variants": ['["Anna Längen", "Anna Lüngen", "Lüngen"]', '["Hagen", "Hagener"]', "[]"],
        }
    )
    scores = score_discrepancies(report, gold, {"e1": "k1", "e3": "k3"})
    # one of three flagged rows shows both its variants; one of two name rows is real; the role row is no name row
    assert (scores["precision"], scores["recall"], scores["benign_reported"]) == (0.5, round(1 / 3, 4), 1)
    assert scores["missed"] == ["k1: Lüngen / Längen", "k2: Aslı / Aslý"] and scores["kind_agreement"] == 1.0


@pytest.mark.slow
def test_sample_corpus_quality_does_not_regress(sample_run):
    result = CliRunner().invoke(app, ["evaluate", "--processed-dir", str(sample_run), "--gold-dir", str(SEEDS)])
    assert result.exit_code == 0, result.output
    scores = json.loads((sample_run / "evaluation.json").read_text(encoding="utf-8"))
    # Floors set from the measured sample-corpus run (all 1.0 when set), with room for one mention per type.
    for label, floor in (("PER", 0.95), ("LOC", 0.95), ("ORG", 0.9)):
        assert scores["mentions"][label]["exact"]["f1"] >= floor, (label, scores["mentions"][label])
    assert scores["clusters"]["b_cubed"]["f1"] >= 0.97
    assert scores["clusters"]["pairwise"]["f1"] >= 0.95
    assert scores["discrepancies"]["precision"] == 1.0 and scores["discrepancies"]["recall"] == 1.0
    assert (sample_run / "evaluation.csv").read_text(encoding="utf-8-sig").startswith("section,item,metric,value")
