from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

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


HEADER = "decision_id,action,entity_id,value,mentions,reviewer,decided_at,note\r\n"


def test_a_stray_quote_in_a_note_hides_no_later_decision(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text(
        HEADER
        + '1,rename,P-1,Anna Lüngen,,anna,,"laut Pressestelle\r\n'
        + "2,merge,P-2,P-3,,anna,,\r\n"
        + '3,rename,P-4,Ömer Kaya,,bo,,"zwei Zeilen\r\nim Excel-Feld"\r\n',
        encoding="utf-8",
    )
    decisions, problems = read_decisions(path)
    assert [d.decision_id for d in decisions] == ["2", "3"]
    assert decisions[1].note == "zwei Zeilen\nim Excel-Feld"  # a real multi-line cell is kept
    assert [p.line for p in problems] == [2] and "quote" in problems[0].problem
    # review appends after it, and the new row is read
    appended = append_decision(path, Decision("", "accept", "P-5", value="X"))
    decisions, _ = read_decisions(path)
    assert appended.decision_id == "4" and decisions[-1].decision_id == "4"


def test_an_excel_saved_file_is_read_and_appended_in_its_own_encoding(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    text = "Decision_ID;Action;Entity_ID;Value;Mentions;Reviewer;Decided_At;Note\r\n7;UMBENENNEN;P-1;Jürgen Weiß;;Anna;;geklärt\r\n8;Not Same;P-2;P-3;;;;\r\n"
    path.write_bytes(text.encode("cp1252"))
    decisions, problems = read_decisions(path)
    assert problems == [] and [(d.action, d.value) for d in decisions] == [
        ("rename", "Jürgen Weiß"),
        ("not-same", "P-3"),
    ]
    append_decision(path, Decision("", "rename", "P-9", value="Günther Öz"))
    raw = path.read_bytes()
    assert raw.startswith(text.encode("cp1252"))  # nothing rewritten, the new row in the same code page
    assert raw.decode("cp1252").splitlines()[-1].startswith("9;rename;P-9;Günther Öz;")
    assert [d.decision_id for d in read_decisions(path)[0]] == ["7", "8", "9"]


def test_a_new_decision_never_reuses_the_id_of_an_invalid_row(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text(HEADER + "1,rename,P-1,,,,,\r\n", encoding="utf-8")  # invalid: no name
    assert read_decisions(path)[0] == []
    appended = append_decision(path, Decision("", "accept", "P-2", value="Y"))
    assert appended.decision_id == "2"
    path.write_text(path.read_text(encoding="utf-8").replace("1,rename,P-1,,", "1,rename,P-1,Z,"), encoding="utf-8")
    decisions, problems = read_decisions(path)
    assert [d.decision_id for d in decisions] == ["1", "2"] and problems == []


def _append_many(path: str, start: int) -> None:
    for i in range(15):
        append_decision(Path(path), Decision("", "rename", f"P-{start + i}", value="N"))


def test_concurrent_appends_give_unique_ids_and_one_header(tmp_path: Path):
    import multiprocessing

    path = tmp_path / "decisions.csv"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(path), n * 100)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    decisions, problems = read_decisions(path)
    assert problems == [] and len(decisions) == 45
    assert len({d.decision_id for d in decisions}) == 45
    assert path.read_text(encoding="utf-8-sig").count("decision_id") == 1


@given(st.lists(st.text(alphabet='ab,;"\r\n\t1P-', max_size=30), max_size=8))
@settings(max_examples=200, deadline=None)
def test_the_reader_never_crashes_and_a_bad_line_hides_no_good_one(tmp_path_factory, junk):
    path = tmp_path_factory.mktemp("fuzz") / "decisions.csv"
    lines = [HEADER.rstrip("\r\n")]
    good = []
    for n, piece in enumerate(junk):
        lines.append(piece.replace("\r", " ").replace("\n", " "))
        lines.append(f"g{n},rename,P-{n},Name {n},,,,")
        good.append(f"g{n}")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    decisions, problems = read_decisions(path)
    found = [d.decision_id for d in decisions]
    assert [g for g in good if g in found] == good, (found, problems)
