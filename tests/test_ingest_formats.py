"""PDF and Word files, unsupported types, doc_ids from relative paths (issue 13).
Every input is a real file: fpdf2 writes the PDF, python-docx the Word document."""

from __future__ import annotations

import csv
import functools
import tempfile
from pathlib import Path

import docx
import pandas as pd
import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import EXIT_PARTIAL, app
from pipeline.config import load_config
from pipeline.ingest import DOCUMENTS_FILE, ERRORS_FILE, NOTE, SKIPPED, SkipFile, ingest_files, source_offset
from pipeline.ingest.stage import read_document

LETTERHEAD = "Pressemitteilung der Stadt Herne"
HEADLINE = "Neues Bürgerbüro in Wanne eröffnet"
BODY = (
    "Herne, 12.11.2015 – Oberbürgermeisterin Annegret Kowalski hat am Montag das neue "
    "Bürgerbüro eröffnet. Rund 80 Gäste kamen zur Eröffnung in die Hauptstraße."
)
CLOSING = "Dezernent Bernhard Ostendorp kündigte weitere Büros an."


@pytest.fixture()
def ingest_config():
    return load_config()["ingest"]


def write_pdf(path: Path, paragraphs: list[str]) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=_dejavu_font())
    pdf.set_font("DejaVu", size=11)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 5, paragraph)  # 11 pt type on 14 pt leading, as office PDFs set it
        pdf.ln(8)
    pdf.output(str(path))


def _dejavu_font() -> str:
    """A TrueType font with umlauts and dashes (fpdf2's core fonts are Latin-1 only)."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def write_docx(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph(LETTERHEAD)
    document.add_heading(HEADLINE, level=1)
    document.add_paragraph(BODY)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Kontakt", "Pressestelle"
    table.cell(1, 0).text, table.cell(1, 1).text = "Telefon", "02323 16-0"
    document.add_paragraph(CLOSING)
    document.save(str(path))


def test_pdf_is_read_with_paragraphs_and_offsets_into_the_extracted_text(tmp_path: Path, ingest_config):
    write_pdf(tmp_path / "meldung.pdf", [LETTERHEAD, HEADLINE, BODY, CLOSING])
    document = read_document(tmp_path / "meldung.pdf", tmp_path, ingest_config)
    assert document.source_format == "pdf" and document.doc_id == "meldung"
    paragraphs = [" ".join(p.split()) for p in document.text.split("\n\n") if p.strip()]
    assert paragraphs[:2] == [LETTERHEAD, HEADLINE]
    assert " ".join(BODY.split()) in paragraphs and CLOSING in paragraphs
    assert (document.title, document.published, document.issuer) == (HEADLINE, "2015-11-12", "Stadt Herne")
    start = document.text.index("Ostendorp")
    assert source_offset(document.offset_map, start) == start  # the extracted text is the source


def test_docx_is_read_with_paragraphs_headings_and_tables(tmp_path: Path, ingest_config):
    write_docx(tmp_path / "meldung.docx")
    document = read_document(tmp_path / "meldung.docx", tmp_path, ingest_config)
    assert document.source_format == "docx"
    assert document.text.split("\n\n") == [
        LETTERHEAD,
        HEADLINE,
        BODY,
        "Kontakt\nPressestelle",
        "Telefon\n02323 16-0",
        CLOSING,
    ]
    assert (document.title, document.published, document.issuer_city) == (HEADLINE, "2015-11-12", "Herne")


def test_broken_pdf_and_docx_are_skipped_in_one_line_and_the_rest_is_read(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_pdf(raw / "gut.pdf", [HEADLINE, BODY])
    (raw / "kaputt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n% abgeschnitten")
    (raw / "kaputt.docx").write_bytes(b"PK\x03\x04 das ist kein Word-Dokument")
    (raw / "leer.pdf").write_bytes((raw / "gut.pdf").read_bytes().replace(b"/Contents", b"/Nothing"))
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--processed-dir", str(tmp_path / "out")])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert pd.read_parquet(tmp_path / "out" / DOCUMENTS_FILE)["doc_id"].tolist() == ["gut"]
    skipped = [line for line in result.output.splitlines() if line.startswith("übersprungen: ")]
    assert len(skipped) == 3 and "Traceback" not in result.output
    assert "not a readable PDF" in next(line for line in skipped if "kaputt.pdf" in line)
    assert "not a readable Word document" in next(line for line in skipped if "kaputt.docx" in line)
    assert "no text layer" in next(line for line in skipped if "leer.pdf" in line)


def test_every_unsupported_file_is_listed_and_hidden_files_are_not(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "meldung.txt").write_text(BODY, encoding="utf-8")
    (raw / "bild.jpg").write_bytes(b"\xff\xd8\xff")
    (raw / "alt.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (raw / "LIESMICH").write_text("ohne Endung", encoding="utf-8")
    (raw / "tabelle.xyz").write_text("x", encoding="utf-8")
    (raw / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (raw / "~$meldung.docx").write_bytes(b"\x00lock")
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--processed-dir", str(tmp_path / "out")])
    assert result.exit_code == EXIT_PARTIAL
    with open(tmp_path / "out" / ERRORS_FILE, encoding="utf-8", newline="") as handle:
        rows = {Path(row["file"]).name: (row["kind"], row["problem"]) for row in csv.DictReader(handle)}
    assert rows == {
        "bild.jpg": (SKIPPED, "unsupported file type .jpg"),
        "alt.doc": (SKIPPED, "unsupported file type .doc"),
        "LIESMICH": (SKIPPED, "unsupported file type without extension"),
        "tabelle.xyz": (SKIPPED, "unsupported file type .xyz"),
    }
    assert ".DS_Store" not in result.output and "~$" not in result.output


def test_doc_id_is_the_relative_path_and_exact_duplicates_are_notes(tmp_path: Path):
    raw = tmp_path / "raw"
    for folder in ("2023", "2024", "kopie"):
        (raw / folder).mkdir(parents=True)
    (raw / "2023" / "meldung.txt").write_text(BODY, encoding="utf-8")
    (raw / "2024" / "meldung.txt").write_text(CLOSING, encoding="utf-8")
    (raw / "kopie" / "meldung.txt").write_text(BODY, encoding="utf-8")
    (raw / "oben.md").write_text(HEADLINE + "\n\n" + BODY + " Oben.", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--processed-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    documents = pd.read_parquet(tmp_path / "out" / DOCUMENTS_FILE)
    assert documents["doc_id"].tolist() == ["2023/meldung", "2024/meldung", "oben"]
    assert documents["source_path"].tolist() == ["2023/meldung.txt", "2024/meldung.txt", "oben.md"]
    assert "Hinweis: kopie/meldung.txt: doppelt (same text as 2023/meldung.txt; read once)" in result.output
    with open(tmp_path / "out" / ERRORS_FILE, encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["file"], row["kind"], row["problem"]) == ("kopie/meldung.txt", NOTE, "duplicate")


def test_subfolder_documents_are_reused_when_unchanged(tmp_path: Path, ingest_config):
    from pipeline.ingest import run_ingest

    raw = tmp_path / "raw"
    (raw / "a").mkdir(parents=True)
    (raw / "a" / "x.docx").parent.mkdir(exist_ok=True)
    write_docx(raw / "a" / "x.docx")
    (raw / "x.txt").write_text(BODY, encoding="utf-8")
    first = run_ingest(raw, tmp_path / "out", ingest_config)
    again = run_ingest(raw, tmp_path / "out", ingest_config)
    assert (first.reused, again.reused) == (0, 2)
    assert sorted(pd.read_parquet(tmp_path / "out" / DOCUMENTS_FILE)["doc_id"]) == ["a/x", "x"]
    assert [d.doc_id for d in ingest_files(raw, ingest_config).documents] == ["a/x", "x"]


@functools.cache
def pristine(suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"meldung{suffix}"
        if suffix == ".pdf":
            write_pdf(path, [HEADLINE, BODY])
        else:
            write_docx(path)
        return path.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damage=st.lists(st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=8)), max_size=6),
    cut=st.floats(min_value=0.0, max_value=1.0),
    suffix=st.sampled_from([".pdf", ".docx"]),
)
def test_damaged_pdf_and_docx_files_are_read_or_skipped_never_raise(tmp_path_factory, damage, cut, suffix):
    """Real files, overwritten in places and cut short, as a broken download leaves them."""
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / f"meldung{suffix}"
    data = bytearray(pristine(suffix))
    for position, garbage in damage:
        start = position % len(data)
        data[start : start + len(garbage)] = garbage
    path.write_bytes(bytes(data[: max(1, int(len(data) * cut))]))
    try:
        document = read_document(path, folder, load_config()["ingest"])
    except SkipFile as skip:
        assert skip.problem in {"empty", "unparseable"}
        return
    assert document.text.strip()
