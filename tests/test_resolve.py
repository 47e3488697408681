"""Resolution on hand-built mention tables: each test states the evidence the texts give."""

import json

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.resolve import REGISTRY_COLUMNS, resolve

SETTINGS = load_config()["resolve"]


def mentions(rows: list[tuple]) -> pd.DataFrame:
    """rows: (doc_id, text, label, sentence, roles)."""
    records = []
    for n, (doc_id, text, label, sentence, roles) in enumerate(rows):
        start = sentence.find(text)
        records.append(
            {
                "doc_id": doc_id,
                "mention_id": f"{doc_id}#{n:04d}",
                "text": text,
                "label": label,
                "start": start,
                "end": start + len(text),
                "source_start": start,
                "source_end": start + len(text),
                "sentence": sentence,
                "label_source": "model",
                "titles": "",
                "roles": roles,
                "person_mention_id": "",
                "person": "",
                "nested_in": "",
            }
        )
    return pd.DataFrame(records)


def documents(*doc_ids: str) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(doc_ids), "published": [f"2025-01-{i + 10:02d}" for i in range(len(doc_ids))]})


def empty_registry() -> pd.DataFrame:
    return pd.DataFrame(columns=REGISTRY_COLUMNS)


def entity_of(result: dict, doc_id: str, text: str) -> str:
    links = result["links"]
    return links[(links["doc_id"] == doc_id) & (links["text"] == text)]["entity_id"].iloc[0]


def row(result: dict, entity_id: str) -> pd.Series:
    entities = result["entities"]
    return entities[entities["entity_id"] == entity_id].iloc[0]


SPEAKER = "{name}, Sprecher des Netzwerks und Kämmerer in Unna, sagte: Wir freuen uns über die Förderung."


def test_typo_variant_with_same_role_is_one_person_and_undecided():
    result = resolve(
        mentions(
            [
                (
                    "a",
                    "Jonas B. Kröger",
                    "PER",
                    SPEAKER.format(name="Jonas B. Kröger"),
                    "Sprecher des Netzwerks und Kämmerer in Unna",
                ),
                (
                    "b",
                    "Jonas B. Kräger",
                    "PER",
                    SPEAKER.format(name="Jonas B. Kräger"),
                    "Sprecher des Netzwerks und Kämmerer in Unna",
                ),
            ]
        ),
        documents("a", "b"),
        empty_registry(),
        SETTINGS,
    )
    entity = entity_of(result, "a", "Jonas B. Kröger")
    assert entity == entity_of(result, "b", "Jonas B. Kräger")
    record = row(result, entity)
    assert record["canonical_status"] == "undecided"
    assert "Kämmerer" in json.loads(record["merge_reasons"])[0]


def test_similar_names_without_evidence_stay_apart():
    result = resolve(
        mentions(
            [
                ("a", "Thomas Schmidt", "PER", "Foto: Thomas Schmidt / Stadt Unna", ""),
                ("b", "Thomas Schmitt", "PER", "Der Bäcker Thomas Schmitt aus Witten eröffnet eine Filiale.", ""),
            ]
        ),
        documents("a", "b"),
        empty_registry(),
        SETTINGS,
    )
    assert entity_of(result, "a", "Thomas Schmidt") != entity_of(result, "b", "Thomas Schmitt")
    candidates = result["candidates"]
    assert {tuple(sorted((r.name_a, r.name_b))) for r in candidates.itertuples()} == {
        ("Thomas Schmidt", "Thomas Schmitt")
    }


def test_damaged_and_folded_forms_yield_the_repaired_name():
    result = resolve(
        mentions(
            [
                ("a", "Aylý Demir", "PER", "Es sprach Aylý Demir.", ""),
                ("b", "Ayli Demir", "PER", "Es sprach Ayli Demir.", ""),
            ]
        ),
        documents("a", "b"),
        empty_registry(),
        SETTINGS,
    )
    entity = entity_of(result, "a", "Aylý Demir")
    assert entity == entity_of(result, "b", "Ayli Demir")
    assert row(result, entity)["canonical_name"] == "Aylı Demir"
    assert row(result, entity)["canonical_status"] == "repaired"


def test_a_surname_alone_joins_the_one_person_of_that_name():
    rows = [
        ("a", "Katja Wellmann", "PER", "Oberbürgermeisterin Katja Wellmann eröffnete.", "Oberbürgermeisterin"),
        ("a", "Wellmann", "PER", "OB Wellmann dankte allen.", ""),
        ("b", "Wellmann", "PER", "Wellmann lobte den Fachtag.", ""),
        ("b", "Wellmanns", "PER", "Wellmanns Rede war kurz.", ""),
    ]
    result = resolve(mentions(rows), documents("a", "b"), empty_registry(), SETTINGS)
    katja = entity_of(result, "a", "Katja Wellmann")
    assert entity_of(result, "a", "Wellmann") == katja
    # document b never names her in full, but the corpus knows one Wellmann
    assert entity_of(result, "b", "Wellmann") == katja == entity_of(result, "b", "Wellmanns")
    assert row(result, katja)["canonical_name"] == "Katja Wellmann"


@pytest.mark.parametrize(
    "other",
    [
        ("b", "Wellmann", "PER", "Herr Wellmann vom Bauamt widersprach.", "Herr"),  # a man: not Katja
        ("c", "Jens Wellmann", "PER", "Jens Wellmann leitet das Bauamt.", ""),  # two Wellmanns in the corpus
    ],
)
def test_a_surname_alone_stays_apart_when_the_texts_do_not_say_who(other):
    rows = [
        ("a", "Katja Wellmann", "PER", "Oberbürgermeisterin Katja Wellmann eröffnete.", "Oberbürgermeisterin"),
        ("a", "Wellmann", "PER", "OB Wellmann dankte allen.", ""),
        ("b", "Wellmann", "PER", "Herr Wellmann vom Bauamt widersprach.", other[4] if other[0] == "b" else ""),
    ]
    if other[0] == "c":
        rows.append(other)
    result = resolve(mentions(rows), documents("a", "b", "c"), empty_registry(), SETTINGS)
    assert entity_of(result, "a", "Wellmann") == entity_of(result, "a", "Katja Wellmann")
    assert entity_of(result, "b", "Wellmann") != entity_of(result, "a", "Katja Wellmann")


def test_places_and_organisations_resolve_their_forms():
    result = resolve(
        mentions(
            [
                ("a", "Dortmunds", "LOC", "Dortmunds Innenstadt wächst.", ""),
                ("b", "Dortmunder", "LOC", "Dortmunder Vereine feiern.", ""),
                ("a", "NRW", "LOC", "Das Land NRW zahlt.", ""),
                ("b", "Nordrhein-Westfalen", "LOC", "Nordrhein-Westfalen zahlt.", ""),
                ("a", "Städtischen Klinikum", "ORG", "im Städtischen Klinikum Dortmund", ""),
                ("a", "Städtischen Klinikum Dortmund", "ORG", "Das Städtischen Klinikum Dortmund lädt ein.", ""),
                ("b", "Städtischen Klinikum", "ORG", "im Städtischen Klinikum", ""),
            ]
        ),
        documents("a", "b"),
        empty_registry(),
        SETTINGS,
    )
    assert entity_of(result, "a", "Dortmunds") == entity_of(result, "b", "Dortmunder")
    assert row(result, entity_of(result, "a", "Dortmunds"))["canonical_name"] == "Dortmund"
    assert entity_of(result, "a", "NRW") == entity_of(result, "b", "Nordrhein-Westfalen")
    # the short form joins the long one only inside the document that has both
    assert entity_of(result, "a", "Städtischen Klinikum") == entity_of(result, "a", "Städtischen Klinikum Dortmund")
    assert entity_of(result, "b", "Städtischen Klinikum") != entity_of(result, "a", "Städtischen Klinikum Dortmund")


def test_ids_are_stable_across_reruns_and_new_documents():
    base = [
        ("a", "Katja Wellmann", "PER", "Katja Wellmann eröffnete.", ""),
        ("a", "Witten", "LOC", "in Witten", ""),
        ("b", "Jonas Kröger", "PER", SPEAKER.format(name="Jonas Kröger"), "Sprecher des Netzwerks"),
    ]
    first = resolve(mentions(base), documents("a", "b"), empty_registry(), SETTINGS, run_stamp="run1")
    again = resolve(mentions(base), documents("a", "b"), first["registry"], SETTINGS, run_stamp="run2")
    assert set(first["entities"]["entity_id"]) == set(again["entities"]["entity_id"])
    assert again["registry"].equals(first["registry"])
    # new documents: a variant that now joins Kröger, and new people
    grown = base + [
        ("c", "Jonas Kräger", "PER", SPEAKER.format(name="Jonas Kräger"), "Sprecher des Netzwerks"),
        ("c", "Aylin Demir", "PER", "Aylin Demir berichtete.", ""),
    ]
    later = resolve(mentions(grown), documents("a", "b", "c"), again["registry"], SETTINGS, run_stamp="run3")
    for doc_id, text in (("a", "Katja Wellmann"), ("a", "Witten"), ("b", "Jonas Kröger")):
        assert entity_of(later, doc_id, text) == entity_of(first, doc_id, text)
    assert entity_of(later, "c", "Jonas Kräger") == entity_of(first, "b", "Jonas Kröger")
    # and a fresh machine (no registry) gives the same IDs for the same corpus
    fresh = resolve(mentions(base), documents("a", "b"), empty_registry(), SETTINGS, run_stamp="x")
    assert set(fresh["entities"]["entity_id"]) == set(first["entities"]["entity_id"])


@pytest.mark.parametrize("name", ["Dr. Dr.", "Herr", "OB"])
def test_titles_alone_do_not_crash_or_vanish(name):
    result = resolve(mentions([("a", name, "PER", f"{name} sprach.", "")]), documents("a"), empty_registry(), SETTINGS)
    assert result["entities"]["canonical_name"].iloc[0].strip()


def test_names_normalised_by_an_earlier_run_are_reused_and_change_nothing():
    from pipeline.resolve.forms import normalised_from_table, normalised_table

    rows = [
        ("a", "Prof. Dr. Katja Wellmann", "PER", "Prof. Dr. Katja Wellmann eröffnete.", ""),
        ("a", "Dortmunds", "LOC", "Dortmunds Innenstadt wächst.", ""),
        ("b", "Stadtwerke Dortmund GmbH", "ORG", "Die Stadtwerke Dortmund GmbH lädt ein.", ""),
        ("b", "Wellmann", "PER", "Wellmann sagte.", ""),
    ]
    first = resolve(mentions(rows), documents("a", "b"), empty_registry(), SETTINGS)
    kept = normalised_from_table(normalised_table(first["normalised"]))
    assert kept == first["normalised"]  # the stored table gives back exactly what was normalised
    again = resolve(mentions(rows), documents("a", "b"), empty_registry(), SETTINGS, normalised=kept)
    for table in ("entities", "links", "pairs", "facts"):
        assert again[table].equals(first[table]), table
    # what is known is used as it is (not normalised again)
    kept[("LOC", "Dortmunds")] = {**kept[("LOC", "Dortmunds")], "display": "Dortmund (kept)"}
    reused = resolve(mentions(rows), documents("a", "b"), empty_registry(), SETTINGS, normalised=kept)
    assert "Dortmund (kept)" in set(reused["links"]["normalised"])


def test_resolve_reads_no_texts_of_the_documents(sample_run, tmp_path, monkeypatch):
    """Resolve needs where a document comes from and when it appeared, not its text (at
    1M documents the texts are gigabytes): it reads only those columns of
    documents.parquet and writes the entities of the run."""
    import shutil

    import pipeline.io
    from pipeline.ingest import DOCUMENTS_FILE
    from pipeline.resolve import ENTITIES_FILE, run_resolve

    processed = tmp_path / "processed"
    shutil.copytree(sample_run, processed)
    shutil.copy(sample_run.parent / "entity_ids.csv", tmp_path / "entity_ids.csv")
    config = load_config()
    config["paths"]["entity_ids_file"] = str(tmp_path / "entity_ids.csv")
    config["paths"]["decisions_file"] = str(tmp_path / "decisions.csv")
    read_columns: list = []
    real_read = pd.read_parquet

    def reading(path, *args, **kwargs):
        if str(path).endswith(DOCUMENTS_FILE):
            read_columns.append(kwargs.get("columns"))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.io.pd, "read_parquet", reading)
    run_resolve(processed, config)
    assert read_columns == [["doc_id", "published", "issuer", "issuer_city"]]
    pd.testing.assert_frame_equal(real_read(processed / ENTITIES_FILE), real_read(sample_run / ENTITIES_FILE))
