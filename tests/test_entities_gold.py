"""Entities of the sample corpus against the gold annotation (slow: full pipeline)."""

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.columns import DATE_COLUMNS, english_headers, german_number, read_table_csv
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


def test_each_gold_entity_is_exactly_one_row(sample_run, gold_mentions):
    links = read_table_csv(sample_run / "mentions.csv")
    gold_entities = pd.read_csv(SEEDS / "gold_entities.csv")
    joined = gold_mentions.merge(links, left_on=["doc_id", "surface"], right_on=["doc_id", "text"], how="left")
    assert joined["entity_id"].notna().all(), joined[joined["entity_id"].isna()][["doc_id", "surface"]]
    ids_per_gold = joined.groupby("entity_key")["entity_id"].nunique()
    assert (ids_per_gold == 1).all(), ids_per_gold[ids_per_gold > 1]
    gold_per_id = joined.groupby("entity_id")["entity_key"].nunique()
    assert (gold_per_id == 1).all(), gold_per_id[gold_per_id > 1]
    assert set(joined["entity_key"]) == set(gold_entities["entity_key"])


def test_canonical_names_and_review_status(sample_run):
    people = read_table_csv(sample_run / "people.csv").set_index("canonical_name")
    assert people.loc["Aslı Sevindim", "canonical_status"] == "repaired"
    assert set(people.loc["Aslı Sevindim", "variants"].split(" | ")) == {"Aslý Sevindim", "Asli Sevindim"}
    luengen = people[people["variants"].str.contains("Lüngen")]
    assert len(luengen) == 1 and luengen["canonical_status"].iloc[0] == "undecided"
    assert "Längen" in luengen["variants"].iloc[0]
    assert "Dr." in people.loc["Frank Dudda", "titles"]
    assert people.loc["Ulrich Weiß", "affiliations"] == "Kolping Hochschule für Gesundheit und Soziales"
    assert people.loc["Michael Kaub", "emails"] == "michael.kaub@stadt-hagen.de"
    assert people.loc["Alexander Kühner", "emails"] == "Alexander.Kuehner@stadt-hagen.de"
    places = read_table_csv(sample_run / "places.csv").set_index("canonical_name")
    assert places.loc["Nordrhein-Westfalen", "variants"] == "NRW | Nordrhein-Westfalen"
    assert places.loc["Herne", "first_seen"] == "2025-01-22" and places.loc["Herne", "last_seen"] == "2025-01-30"
    assert (sample_run / "presseabgleich.xlsx").is_file()


def test_workbook_written_in_the_background_holds_every_table(sample_run):
    """`run` writes the workbook in a second process; it must equal the CSVs, sheet by sheet,
    with numbers and dates typed, and hold the review list, decisions and documents."""
    workbook = sample_run / "presseabgleich.xlsx"
    for name, sheet_name in (
        ("people", "Personen"),
        ("places", "Orte"),
        ("organisations", "Organisationen"),
        ("mentions", "Erwähnungen"),
        ("discrepancies", "Abweichungen"),
    ):
        csv = read_table_csv(sample_run / f"{name}.csv")
        sheet = english_headers(pd.read_excel(workbook, sheet_name=sheet_name, keep_default_na=False))
        assert list(sheet.columns) == list(csv.columns) and len(sheet) == len(csv) > 0, name
        for column in csv.columns:
            if column in DATE_COLUMNS:
                expected = [pd.Timestamp(v) if v else "" for v in csv[column]]
            elif pd.api.types.is_numeric_dtype(sheet[column]):
                expected = [german_number(v) for v in csv[column]]
            else:
                expected = list(csv[column])
            assert list(sheet[column]) == expected, (name, column)
    documents = english_headers(pd.read_excel(workbook, sheet_name="Dokumente"))
    assert list(documents.columns) == ["doc_id", "source_path", "title", "published", "issuer"]
    assert pd.api.types.is_datetime64_any_dtype(documents["published"])
    assert set(load_workbook(workbook, read_only=True).sheetnames) >= {"Mögliche Dubletten", "Entscheidungen"}
