import io
import json

import pandas as pd
from openpyxl import load_workbook

from pipeline.export import MAX_CELL_CHARS, flatten_lists, to_csv_text, write_workbook


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


def test_long_lists_and_texts_fit_a_spreadsheet_cell_and_say_what_was_left_out():
    ids = [f"meldung-{n:06d}" for n in range(5000)]
    table = flatten_lists(pd.DataFrame({"documents": [json.dumps(ids), json.dumps(ids[:3])]}))
    cell = table["documents"][0]
    assert len(cell) <= MAX_CELL_CHARS
    kept = cell.split(" | ")[:-1]
    assert kept == ids[: len(kept)]
    assert cell.endswith(f"… (+{len(ids) - len(kept)} more)")
    assert table["documents"][1] == " | ".join(ids[:3])
    text = to_csv_text(pd.DataFrame({"sentence": ["Wort " * 10_000]}), "excel")
    back = pd.read_csv(io.StringIO(text[1:]), dtype=str)["sentence"][0]
    assert len(back) <= MAX_CELL_CHARS and back.endswith("[cut: 50,000 characters]")


def test_tables_longer_than_a_sheet_continue_on_further_sheets(tmp_path):
    path = tmp_path / "out.xlsx"
    rows = pd.DataFrame({"mention_id": [f"m{n}" for n in range(10)], "text": ["x"] * 10})
    write_workbook({"mentions": rows, "people": frame()}, path, max_rows=4)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["mentions", "mentions (2)", "mentions (3)", "mentions (4)", "people"]
    back = pd.concat(
        [pd.read_excel(path, sheet_name=name, dtype=str) for name in workbook.sheetnames[:4]], ignore_index=True
    )
    assert list(back["mention_id"]) == list(rows["mention_id"])
