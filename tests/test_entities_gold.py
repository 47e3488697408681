"""Entities of the sample corpus against the gold annotation (slow: full pipeline)."""

import pandas as pd
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


def test_each_gold_entity_is_exactly_one_row(sample_run, gold_mentions):
    links = pd.read_csv(sample_run / "mentions.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    gold_entities = pd.read_csv(SEEDS / "gold_entities.csv")
    joined = gold_mentions.merge(links, left_on=["doc_id", "surface"], right_on=["doc_id", "text"], how="left")
    assert joined["entity_id"].notna().all(), joined[joined["entity_id"].isna()][["doc_id", "surface"]]
    ids_per_gold = joined.groupby("entity_key")["entity_id"].nunique()
    assert (ids_per_gold == 1).all(), ids_per_gold[ids_per_gold > 1]
    gold_per_id = joined.groupby("entity_id")["entity_key"].nunique()
    assert (gold_per_id == 1).all(), gold_per_id[gold_per_id > 1]
    assert set(joined["entity_key"]) == set(gold_entities["entity_key"])


def test_canonical_names_and_review_status(sample_run):
    people = pd.read_csv(sample_run / "people.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False).set_index(
        "canonical_name"
    )
    assert people.loc["Aslı Sevindim", "canonical_status"] == "repaired"
    assert set(people.loc["Aslı Sevindim", "variants"].split(" | ")) == {"Aslý Sevindim", "Asli Sevindim"}
    luengen = people[people["variants"].str.contains("Lüngen")]
    assert len(luengen) == 1 and luengen["canonical_status"].iloc[0] == "undecided"
    assert "Längen" in luengen["variants"].iloc[0]
    assert "Dr." in people.loc["Frank Dudda", "titles"]
    assert people.loc["Ulrich Weiß", "affiliations"] == "Kolping Hochschule für Gesundheit und Soziales"
    assert people.loc["Michael Kaub", "emails"] == "michael.kaub@stadt-hagen.de"
    assert people.loc["Alexander Kühner", "emails"] == "Alexander.Kuehner@stadt-hagen.de"
    places = pd.read_csv(sample_run / "places.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False).set_index(
        "canonical_name"
    )
    assert places.loc["Nordrhein-Westfalen", "variants"] == "NRW | Nordrhein-Westfalen"
    assert places.loc["Herne", "first_seen"] == "2025-01-22" and places.loc["Herne", "last_seen"] == "2025-01-30"
    assert (sample_run / "presseabgleich.xlsx").is_file()


def test_workbook_written_in_the_background_holds_every_table(sample_run):
    """`run` writes the workbook in a second process; it must equal the CSVs, sheet by sheet."""
    for name in ("people", "places", "organisations", "mentions"):
        csv = pd.read_csv(sample_run / f"{name}.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
        sheet = pd.read_excel(sample_run / "presseabgleich.xlsx", sheet_name=name, dtype=str, keep_default_na=False)
        # the CSV neutralises formula-like cells with an apostrophe; the workbook stores them as text
        csv = csv.map(lambda value: value[1:] if value.startswith("'") else value)
        assert len(sheet) == len(csv) > 0
        assert sheet.equals(csv), name
