import io
import json
from datetime import date, datetime

import pandas as pd
from openpyxl import load_workbook

from pipeline.columns import GERMAN_HEADERS, read_table_csv
from pipeline.config import load_config
from pipeline.export import MAX_CELL_CHARS, flatten_lists, review_sheets, to_csv_text, write_workbook


def frame():
    return pd.DataFrame(
        {
            "entity_id": ["P-0012", "P-0013"],
            "canonical_name": ["Jürgen Weiß", '=HYPERLINK("http://x")'],
            "phones": ["+49 231 50 0", "@SUM(A1)"],
            "first_seen": ["2025-01-30", ""],
        }
    )


def test_csv_has_bom_german_headers_and_reads_back_with_umlauts_and_text_ids(tmp_path):
    text = to_csv_text(frame(), "excel")
    assert text.startswith("\ufeffID,Name,Telefonnummern,Erstes Datum\r\n")
    assert not text.lower().startswith("\ufeffsep=")
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8", newline="")
    back = read_table_csv(path)
    assert list(back.columns) == ["entity_id", "canonical_name", "phones", "first_seen"]
    assert back["canonical_name"][0] == "Jürgen Weiß"
    assert back["entity_id"][0] == "P-0012"
    assert back["first_seen"][0] == "2025-01-30"
    assert back["phones"][0] == "+49 231 50 0"  # the apostrophe against formulas is taken off again


def test_the_default_dialect_is_german_excel_semicolons_and_decimal_commas(tmp_path):
    assert load_config()["export"]["csv_dialect"] == "excel-de"
    numbers = frame().assign(confidence=[0.9, 0.25], n_mentions=[3, 12])
    text = to_csv_text(numbers, "excel-de")
    lines = text.splitlines()
    assert lines[0] == "\ufeffID;Name;Telefonnummern;Erstes Datum;Sicherheit;Anzahl Erwähnungen"
    assert lines[1].endswith(";0,9;3") and lines[2].endswith(";0,25;12")
    assert to_csv_text(numbers, "excel").splitlines()[1].endswith(",0.9,3")
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert list(read_table_csv(path)["confidence"]) == ["0,9", "0,25"]


def test_every_german_header_names_one_column():
    assert len(set(GERMAN_HEADERS.values())) == len(GERMAN_HEADERS)


def test_formula_cells_are_neutralised():
    back = pd.read_csv(io.StringIO(to_csv_text(frame(), "excel")[1:]), dtype=str)
    assert back["Name"][1] == '\'=HYPERLINK("http://x")'
    assert back["Telefonnummern"][0] == "'+49 231 50 0"
    assert back["Telefonnummern"][1] == "'@SUM(A1)"


def test_workbook_has_frozen_german_header_filters_and_no_formulas(tmp_path):
    path = tmp_path / "out.xlsx"
    write_workbook({"Personen": frame(), "Orte": frame().iloc[:1]}, path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Personen", "Orte"]
    sheet = workbook["Personen"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D3"
    assert [c.value for c in sheet[1]] == ["ID", "Name", "Telefonnummern", "Erstes Datum"]
    cell = sheet["B3"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert pd.read_excel(path, sheet_name="Personen", dtype=str)["Name"][0] == "Jürgen Weiß"


def test_workbook_numbers_and_dates_are_typed(tmp_path):
    path = tmp_path / "out.xlsx"
    table = pd.DataFrame(
        {
            "entity_id": ["P-1", "P-2"],
            "n_mentions": [3, 12],
            "confidence": [0.9, 0.5],
            "first_seen": ["2025-01-30", ""],
            "decided_at": ["2025-03-01T09:30:00+00:00", ""],
        }
    )
    write_workbook({"Personen": table}, path)
    sheet = load_workbook(path)["Personen"]
    assert sheet["A2"].value == "P-1" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == 3 and sheet["B2"].data_type == "n"
    assert sheet["C3"].value == 0.5 and sheet["C3"].data_type == "n"
    assert sheet["D2"].value == datetime(2025, 1, 30) and sheet["D2"].is_date
    assert sheet["D2"].number_format == "dd.mm.yyyy"
    assert sheet["D3"].value is None
    local = datetime(2025, 3, 1, 9, 30, tzinfo=datetime.now().astimezone().tzinfo).replace(tzinfo=None)
    assert sheet["E2"].is_date and abs((sheet["E2"].value - local).total_seconds()) < 24 * 3600
    assert sheet["E2"].value.date() in {date(2025, 3, 1), date(2025, 2, 28), date(2025, 3, 2)}


def test_review_sheets_come_from_the_report_decisions_and_documents(tmp_path):
    config = load_config()
    config["paths"]["decisions_file"] = str(tmp_path / "decisions.csv")
    (tmp_path / "decisions.csv").write_text(
        "decision_id;action;entity_id;value;mentions;reviewer;decided_at;note\r\n"
        "1;rename;P-1;Jürgen Weiß;;Frau Kaub;2025-03-01T09:30:00+00:00;bestätigt\r\n",
        encoding="utf-8-sig",
    )
    pd.DataFrame({"entity_id": ["P-1"]}).to_parquet(tmp_path / "entities.parquet")
    documents = pd.DataFrame(
        {
            "doc_id": ["a"],
            "source_path": ["a.txt"],
            "title": ["Meldung"],
            "published": ["2025-01-30"],
            "issuer": ["Stadt Hagen"],
            "text": ["..."],
        }
    )
    documents.to_parquet(tmp_path / "documents.parquet")
    notes: list[str] = []
    sheets = review_sheets(tmp_path, config, log=notes.append)
    assert set(sheets) == {"decisions", "documents"}
    assert any(note.startswith("Hinweis: kein Blatt mit Abweichungen") for note in notes)
    assert sheets["decisions"].loc[0, "reviewer"] == "Frau Kaub"
    assert list(sheets["documents"].columns) == ["doc_id", "source_path", "title", "published", "issuer"]
    report = pd.DataFrame({"discrepancy_id": ["D0001"], "entity_id": ["P-1"], "confidence": [0.9]})
    report.to_parquet(tmp_path / "discrepancies.parquet")
    candidates = pd.DataFrame({"pair_id": ["K-1"], "status": ["open"], "score": [0.6]})
    candidates.to_parquet(tmp_path / "possible_duplicates.parquet")
    sheets = review_sheets(tmp_path, config, log=notes.append)
    assert sheets["discrepancies"].loc[0, "confidence"] == 0.9  # a number, not text
    assert sheets["possible_duplicates"].loc[0, "score"] == 0.6


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
    back = pd.read_csv(io.StringIO(text[1:]), dtype=str)["Satz"][0]
    assert len(back) <= MAX_CELL_CHARS and back.endswith("[cut: 50,000 characters]")


def test_tables_longer_than_a_sheet_continue_on_further_sheets(tmp_path):
    path = tmp_path / "out.xlsx"
    rows = pd.DataFrame({"mention_id": [f"m{n}" for n in range(10)], "text": ["x"] * 10})
    write_workbook({"Erwähnungen": rows, "Personen": frame()}, path, max_rows=4)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Erwähnungen", "Erwähnungen (2)", "Erwähnungen (3)", "Erwähnungen (4)", "Personen"]
    back = pd.concat(
        [pd.read_excel(path, sheet_name=name, dtype=str) for name in workbook.sheetnames[:4]], ignore_index=True
    )
    assert list(back["Erwähnungs-ID"]) == list(rows["mention_id"])


def test_the_workbook_leaves_out_the_mentions_of_a_large_corpus_and_says_so(sample_run, tmp_path):
    import shutil

    from pipeline.export import WORKBOOK_FILE, run_export

    processed = tmp_path / "processed"
    shutil.copytree(sample_run, processed)
    config = load_config()
    config["paths"]["decisions_file"] = str(tmp_path / "decisions.csv")
    n_mentions = len(pd.read_parquet(processed / "mention_entities.parquet"))
    for limit, has_sheet in ((n_mentions, True), (0, True), (n_mentions - 1, False)):
        config["export"]["workbook_max_mentions"] = limit
        notes: list[str] = []
        tables, _ = run_export(processed, config, log=notes.append)
        sheets = load_workbook(processed / WORKBOOK_FILE, read_only=True).sheetnames
        assert ("Erwähnungen" in sheets) == has_sheet, (limit, sheets)
        assert any("workbook_max_mentions" in note for note in notes) == (not has_sheet)
        assert len(tables["mentions.csv"]) == n_mentions  # the CSV keeps them all


def pandas_csv_text(frame: pd.DataFrame, dialect: str) -> str:
    """What to_csv_text must write: pandas' to_csv of the safe cells (under German headers)."""
    from pipeline.columns import german_headers
    from pipeline.export import DIALECTS, safe_cells

    delimiter, decimal = DIALECTS[dialect]
    safe = german_headers(frame)
    cells = pd.DataFrame({c: safe_cells(safe[c]) for c in safe.columns}, columns=safe.columns)
    return "\ufeff" + cells.to_csv(index=False, sep=delimiter, decimal=decimal, lineterminator="\r\n")


def test_csv_text_is_what_pandas_writes_quotes_line_breaks_formulas_numbers_and_gaps():
    texts = ["a;b", "a,b", 'er sagte "ja"', "zwei\nZeilen", "CR\rallein", "=1+1", "-5", "@x", "\tTab", ""]
    texts += ["ü", "x" * 40_000, None, float("nan"), "'=schon", "+49 231", " Leer am Anfang", '"', ";"]
    n = len(texts)
    table = pd.DataFrame(
        {
            "entity_id": texts,
            "canonical_name": pd.array(texts, dtype="str"),  # Arrow-backed text, as parquet gives it
            "n_mentions": range(n),
            "confidence": [0.5, 1e-7, float("nan"), 2.0, -0.25] * 3 + [1.0] * (n - 15),
            "merged": [True, False] * (n // 2) + [True] * (n % 2),
            "variants": [1, "=x", 2.5, None, True] * 3 + ["a"] * (n - 15),  # mixed: pandas formats them
        }
    )
    for dialect in ("excel-de", "excel"):
        assert to_csv_text(table, dialect) == pandas_csv_text(table, dialect)
        for column in table.columns:  # a table of one column: an empty field is written ""
            assert to_csv_text(table[[column]], dialect) == pandas_csv_text(table[[column]], dialect), column
        assert to_csv_text(table.head(0), dialect) == pandas_csv_text(table.head(0), dialect)


def test_list_columns_are_joined_as_json_reads_them():
    from pipeline.export import join_list

    cells = [
        json.dumps(["Jürgen Weiß", "J. Weiß"], ensure_ascii=False),
        json.dumps(['Ali "Ali" Öz', "a\\b", "Zeile\nzwei"]),  # escapes: parsed
        json.dumps(["x"] * 5_000),  # too long for a cell: cut with a count
        '["a","b"]',  # another spacing: parsed
        "[]",
        "",
        '[""]',
        '["ü", ""]',
    ]
    table = flatten_lists(pd.DataFrame({"variants": cells, "roles": pd.array(cells, dtype="str")}))
    expected = [join_list(json.loads(v)) if v else "" for v in cells]
    assert list(table["variants"]) == expected and list(table["roles"]) == expected
    for odd in ('["a\x01"]', "[1, 2]", "[kein json]"):  # not lists of JSON strings: the column stays
        assert list(flatten_lists(pd.DataFrame({"x": ['["a"]', odd]}))["x"]) == ['["a"]', odd]


def test_the_workbook_reads_its_review_sheets_when_it_is_waited_for(tmp_path):
    from pipeline.export import WorkbookJob

    path = tmp_path / "out.xlsx"
    later = {"Abweichungen": frame()}
    job = WorkbookJob({"Personen": frame()}, path, review=lambda: later)
    later["Dokumente"] = frame().iloc[:1]  # written after the job started: still in the workbook
    job.wait()
    assert load_workbook(path).sheetnames == ["Personen", "Abweichungen", "Dokumente"]


def test_a_caller_that_never_waits_leaves_no_workbook_and_does_not_hang(tmp_path):
    import subprocess
    import sys

    script = (
        "import pandas as pd, sys\n"
        "from pathlib import Path\n"
        "from pipeline.export import WorkbookJob\n"
        "WorkbookJob({'Personen': pd.DataFrame({'a': ['x']})}, Path(sys.argv[1]))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "out.xlsx")], timeout=60, check=True)
    assert list(tmp_path.iterdir()) == []
