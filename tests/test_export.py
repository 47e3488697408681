import io

import pandas as pd
from openpyxl import load_workbook

from pipeline.export import to_csv_text, write_workbook


def frame():
    return pd.DataFrame(
        {
            "entity_id": ["P-0012", "P-0013"],
            "canonical_name": ["Jürgen Weiß", '=HYPERLINK("http://x")'],
            "phones": ["+49 231 50 0", "@SUM(A1)"],
            "first_seen": ["2025-01-30", ""],
        }
    )


def test_csv_has_bom_and_reads_back_with_umlauts_and_text_ids():
    text = to_csv_text(frame(), "excel")
    assert text.startswith("\ufeffentity_id,")
    assert not text.lower().startswith("\ufeffsep=")
    back = pd.read_csv(io.BytesIO(text.encode("utf-8")), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["canonical_name"][0] == "Jürgen Weiß"
    assert back["entity_id"][0] == "P-0012"
    assert back["first_seen"][0] == "2025-01-30"


def test_excel_de_dialect_uses_semicolons():
    text = to_csv_text(frame(), "excel-de")
    assert text.splitlines()[0] == "\ufeffentity_id;canonical_name;phones;first_seen"


def test_formula_cells_are_neutralised():
    back = pd.read_csv(io.StringIO(to_csv_text(frame(), "excel")[1:]), dtype=str)
    assert back["canonical_name"][1] == '\'=HYPERLINK("http://x")'
    assert back["phones"][0] == "'+49 231 50 0"
    assert back["phones"][1] == "'@SUM(A1)"


def test_workbook_has_frozen_header_filters_and_no_formulas(tmp_path):
    path = tmp_path / "out.xlsx"
    write_workbook({"people": frame(), "places": frame().iloc[:1]}, path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["people", "places"]
    sheet = workbook["people"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D3"
    cell = sheet["B3"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert pd.read_excel(path, sheet_name="people", dtype=str)["canonical_name"][0] == "Jürgen Weiß"
