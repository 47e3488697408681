from pathlib import Path

import pandas as pd

from pipeline.config import load_config
from pipeline.resolve import REGISTRY_COLUMNS, resolve
from pipeline.review.decisions import Decision, append_decision, read_decisions
from tests.test_resolve import SPEAKER, documents, entity_of, mentions, row

SETTINGS = load_config()["resolve"]


def test_append_never_rewrites_and_keeps_the_users_delimiter(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    original = "\ufeffdecision_id;action;entity_id;value;mentions;reviewer;decided_at;note\r\n7;rename;P-1;Jürgen Weiß;;anna;2025-02-01;per Telefon geklärt\r\n"
    path.write_bytes(original.encode("utf-8"))
    append_decision(path, Decision(decision_id="", action="accept", entity_id="P-2", value="Aylı Demir", reviewer="bo"))
    data = path.read_bytes()
    assert data.startswith(original.encode("utf-8"))
    assert data.decode("utf-8").splitlines()[-1].startswith("8;accept;P-2;Aylı Demir;;bo;")
    decisions, problems = read_decisions(path)
    assert [d.decision_id for d in decisions] == ["7", "8"] and problems == []


def test_bad_rows_are_reported_not_dropped(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text(
        "decision_id,action,entity_id,value,mentions\n1,rename,P-1,,\n2,delete,P-1,,\n3,split,P-1,,nothing\n4,merge,P-1,P-2,\n",
        encoding="utf-8",
    )
    decisions, problems = read_decisions(path)
    assert [d.decision_id for d in decisions] == ["4"]
    assert [p.line for p in problems] == [2, 3, 4]


def test_decisions_are_applied_and_stale_ones_reported():
    rows = [
        ("a", "Jonas B. Kröger", "PER", SPEAKER.format(name="Jonas B. Kröger"), "Sprecher des Netzwerks"),
        ("b", "Jonas B. Kräger", "PER", SPEAKER.format(name="Jonas B. Kräger"), "Sprecher des Netzwerks"),
        ("a", "Katja Wellmann", "PER", "Katja Wellmann eröffnete.", ""),
        ("c", "Katja Wellmann", "PER", "Die Schülerin Katja Wellmann gewann.", ""),
        ("a", "Unna", "LOC", "in Unna", ""),
        ("b", "Kreisstadt Unna", "LOC", "die Kreisstadt Unna", ""),
    ]
    registry = pd.DataFrame(columns=REGISTRY_COLUMNS)
    first = resolve(mentions(rows), documents("a", "b", "c"), registry, SETTINGS)
    kroeger = entity_of(first, "a", "Jonas B. Kröger")
    wellmann = entity_of(first, "a", "Katja Wellmann")
    unna, kreisstadt = entity_of(first, "a", "Unna"), entity_of(first, "b", "Kreisstadt Unna")
    assert unna != kreisstadt
    decisions = [
        Decision("1", "rename", kroeger, value="Jonas B. Kröger"),
        Decision("2", "split", wellmann, mentions="c: Katja Wellmann"),
        Decision("3", "merge", unna, value=kreisstadt),
        Decision("4", "accept", "P-0000000000", value="Niemand"),
    ]
    second = resolve(mentions(rows), documents("a", "b", "c"), first["registry"], SETTINGS, decisions=decisions)
    assert row(second, kroeger)["canonical_name"] == "Jonas B. Kröger"
    assert row(second, kroeger)["canonical_status"] == "decided"
    assert entity_of(second, "a", "Katja Wellmann") == wellmann
    assert entity_of(second, "c", "Katja Wellmann") != wellmann
    assert entity_of(second, "b", "Kreisstadt Unna") == unna
    statuses = dict(zip(second["decision_statuses"]["decision_id"], second["decision_statuses"]["status"], strict=True))
    assert statuses == {"1": "applied", "2": "applied", "3": "applied", "4": "stale"}
    # decisions keep applying when new documents arrive
    grown = rows + [("d", "Jonas B. Kröger", "PER", "Jonas B. Kröger lobte den Fachtag.", "")]
    third = resolve(mentions(grown), documents("a", "b", "c", "d"), second["registry"], SETTINGS, decisions=decisions)
    assert entity_of(third, "d", "Jonas B. Kröger") == kroeger
    assert entity_of(third, "c", "Katja Wellmann") == entity_of(second, "c", "Katja Wellmann")
    assert row(third, kroeger)["canonical_status"] == "decided"
