"""Hostile input folders (issue 12): nothing in them stops the batch or reaches a
terminal or spreadsheet raw. Real files in tmp_path, the real CLI where the
message or the exit code is what counts."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import EXIT_PARTIAL, app
from pipeline.config import load_config
from pipeline.ingest import (
    DOCUMENTS_FILE,
    ERRORS_FILE,
    NOTE,
    SKIPPED,
    html_to_text,
    ingest_files,
    markdown_to_text,
    plain_to_text,
    run_ingest,
    source_offset,
)

REPO = Path(__file__).resolve().parents[1]
TEXT = "Oberbürgermeisterin Annegret Kowalski eröffnete das Bürgerbüro."


@pytest.fixture()
def ingest_config():
    return load_config()["ingest"]


def run_cli(raw: Path, processed: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--processed-dir", str(processed)])
    return result.exit_code, result.output


def errors_rows(processed: Path) -> list[dict[str, str]]:
    with open(processed / ERRORS_FILE, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def documents(processed: Path) -> pd.DataFrame:
    return pd.read_parquet(processed / DOCUMENTS_FILE)


def line_about(output: str, name: str) -> str:
    [line] = [line for line in output.splitlines() if name in line]
    return line


def test_symlink_loop_dangling_link_and_outside_link_are_skipped_with_a_reason(tmp_path: Path):
    raw, outside = tmp_path / "raw", tmp_path / "secret.txt"
    raw.mkdir()
    (raw / "ok.txt").write_text(TEXT, encoding="utf-8")
    os.symlink("self.txt", raw / "self.txt")  # ln -s self.txt raw/self.txt
    os.symlink("gone.txt", raw / "dangling.txt")
    outside.write_text("geheim", encoding="utf-8")
    os.symlink(outside, raw / "outside.txt")
    code, output = run_cli(raw, tmp_path / "out")
    assert code == EXIT_PARTIAL, output
    assert documents(tmp_path / "out")["doc_id"].tolist() == ["ok"]
    assert "Verknüpfung im Kreis" in line_about(output, "self.txt")
    assert "Verknüpfung ins Leere" in line_about(output, "dangling.txt")
    assert "außerhalb des Eingangsordners" in line_about(output, "outside.txt")
    assert "Traceback" not in output


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """chmod 000 does not stop root: as root, act as user nobody meanwhile (effective
    uid only, so the process can switch back)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_unreadable_folder_is_skipped_with_a_message():
    import pyarrow.parquet  # noqa: F401  (imported while the interpreter's files are readable)

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        base.chmod(0o777)
        raw = base / "raw"
        (raw / "locked").mkdir(parents=True)
        (raw / "ok.txt").write_text(TEXT, encoding="utf-8")
        (raw / "locked" / "hidden.txt").write_text(TEXT + " Zweitens.", encoding="utf-8")
        raw.chmod(0o755)
        (raw / "locked").chmod(0o000)
        try:
            with unprivileged():
                code, output = run_cli(raw, base / "out")
        finally:
            (raw / "locked").chmod(0o755)
        assert code == EXIT_PARTIAL, output
        assert "Ordner nicht lesbar" in line_about(output, "locked")
        assert documents(base / "out")["doc_id"].tolist() == ["ok"]


def test_latin1_file_name_gets_a_readable_stable_doc_id(tmp_path: Path, ingest_config):
    raw = tmp_path / "raw"
    raw.mkdir()
    with open(os.path.join(os.fsencode(raw), b"M\xfcller.txt"), "wb") as handle:  # Latin-1, as Windows tools write
        handle.write(TEXT.encode("utf-8"))
    code, output = run_cli(raw, tmp_path / "out")
    assert code == 0, output
    first = documents(tmp_path / "out")
    assert first["doc_id"].tolist() == ["Müller"] and first["source_path"].tolist() == ["Müller.txt"]
    assert run_cli(raw, tmp_path / "again")[0] == 0
    assert documents(tmp_path / "again")["doc_id"].tolist() == ["Müller"]


def test_latin1_and_utf8_spellings_of_one_name_stay_two_documents(tmp_path: Path, ingest_config):
    raw = tmp_path / "raw"
    raw.mkdir()
    folder = os.fsencode(raw)
    for name, text in ((b"M\xfcller.txt", TEXT), ("Müller.txt".encode(), TEXT + " Zweitens.")):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(text.encode("utf-8"))
    result = ingest_files(raw, ingest_config)
    doc_ids = [d.doc_id for d in result.documents]
    assert len(set(doc_ids)) == 2 and doc_ids[0] == "Müller" and doc_ids[1].startswith("Müller~")
    [note] = result.notes
    assert note.problem == "doc_id renamed" and "byte encodings" in note.detail


def test_control_characters_in_file_names_never_reach_the_terminal(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "ok.txt").write_text(TEXT, encoding="utf-8")
    (raw / "evil\x1b[31m\x07.txt").write_bytes(b"")  # empty: it is named in a message
    (raw / "bidi\u202etxt.exe.md").write_text(TEXT + " Zweitens.", encoding="utf-8")
    code, output = run_cli(raw, tmp_path / "out")
    assert code == EXIT_PARTIAL
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "evil\\x1b[31m\\x07.txt" in output
    assert "bidi\\u202etxt.exe" in set(documents(tmp_path / "out")["doc_id"])
    assert all(row["file"].isprintable() for row in errors_rows(tmp_path / "out"))


def test_formula_file_name_is_no_live_formula_in_ingest_errors(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meldung.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / '=HYPERLINK("evil.example","klick").txt').write_bytes(b"")
    (tmp_path / "+SUM(1,2).txt").write_bytes(b"")
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", ".", "--processed-dir", "out"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    rows = errors_rows(tmp_path / "out")
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    skipped = [row["file"] for row in rows if row["kind"] == SKIPPED]
    assert sorted(skipped) == ["'+SUM(1,2).txt", '\'=HYPERLINK("evil.example","klick").txt']
    assert [(row["file"], row["problem"]) for row in rows if row["kind"] == NOTE] == [("./out", "own output")]


def test_processed_folder_and_registry_inside_the_input_are_never_ingested(tmp_path: Path, monkeypatch):
    """raw == cwd with data/processed below it, as `--raw-dir .` in a project folder gives."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meldung.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "entity_ids.csv").write_text("node,entity_id\n", encoding="utf-8")
    (tmp_path / "data" / "decisions.csv").write_text("decision_id\n", encoding="utf-8")
    for _ in range(2):
        result = CliRunner().invoke(app, ["ingest", "--raw-dir", ".", "--processed-dir", "data/processed"])
        assert result.exit_code == 0, result.output
        # what later stages write there: it must not come back as input
        (tmp_path / "data" / "processed" / "discrepancies.html").write_text(
            "<p><a href='javascript:alert(1)'>Hans Meier</a></p>", encoding="utf-8"
        )
    assert documents(tmp_path / "data" / "processed")["doc_id"].tolist() == ["meldung"]
    notes = {
        Path(row["file"]).name: (row["kind"], row["problem"]) for row in errors_rows(tmp_path / "data" / "processed")
    }
    assert notes == {name: (NOTE, "own output") for name in ("processed", "entity_ids.csv", "decisions.csv")}


def test_offset_map_of_entity_heavy_html_points_into_the_source():
    """Every exact segment is the same text in the source; every word maps onto
    itself or onto the entity it was written as."""
    words = ["Müller", "&amp;", "Söhne", "M&uuml;ller", "&bdquo;Tag&ldquo;", "Co.", "&#252;ber", "&nbsp;", "Jung"]
    cells = "".join(
        f"<li><a title='Wort{i}'>Wort{i}</a> <b>{words[i % 9]}</b> {words[(i * 7) % 9]} Wort{i}.</li>\n"
        for i in range(400)
    )
    html = f"<html><body><script>var a = '&amp; Wort3';</script><ul>\n{cells}</ul><p>Ende &amp; aus</p></body></html>"
    text, segments, _ = html_to_text(html)
    for segment in segments:
        if segment.exact:
            piece = text[segment.text_start : segment.text_start + segment.length]
            assert html[segment.source_start : segment.source_start + segment.length] == piece
    for i in (0, 1, 137, 399):
        link_text, last_word = text.index(f"Wort{i} "), text.index(f" Wort{i}.") + 1
        for start, before in ((link_text, ">"), (last_word, " ")):
            position = source_offset(segments, start)
            assert html[position - 1 : position + len(f"Wort{i}")] == before + f"Wort{i}"  # not in the attribute
            assert html.rfind("<li", 0, position) > html.index("</script>")
    ampersand = text.index("&", text.index("Wort0"))
    assert html.startswith("&amp;", source_offset(segments, ampersand))
    assert text.endswith("Ende & aus\n\n")


def test_cr_only_line_endings_are_line_breaks():
    text, _, _ = plain_to_text(
        "Das Fest war schön, sprach sie.\rKämmerin Anna Krause nickte.\r\rDanach ging es weiter."
    )
    assert "sprach sie.\nKämmerin" in text and "nickte.\n\nDanach" in text


def test_paragraph_after_a_deeply_nested_markdown_list_is_kept():
    markdown = "".join("  " * depth + f"- Punkt {depth}\n" for depth in range(40)) + "\nDanach sprach Anna Krause.\n"
    text, _, _ = markdown_to_text(markdown)
    assert "Punkt 39" in text and "Danach sprach Anna Krause." in text


def test_cdata_in_html_is_not_text():
    text, _, _ = html_to_text("<html><body><p>Die Stadt lädt ein.<![CDATA[Hans Meier]]></p></body></html>")
    assert "Hans Meier" not in text and "Die Stadt lädt ein." in text


def test_pipe_in_a_file_name_never_enters_a_compound_key(tmp_path: Path, ingest_config):
    """resolve builds keys like "PER|doc_id|surname": a "|" in the doc_id split the
    surname mention from its full name (a spurious person). The doc_id keeps the
    name readable with "¦"; source_path keeps the real name."""
    (tmp_path / "Stadt Herne | Presse.txt").write_text(TEXT, encoding="utf-8")
    [document] = ingest_files(tmp_path, ingest_config).documents
    assert document.doc_id == "Stadt Herne ¦ Presse"
    assert document.source_path == "Stadt Herne | Presse.txt"
    assert "Presse" not in document.text and document.title == ""


def test_nfc_and_nfd_spellings_of_one_name_get_distinct_doc_ids_and_a_note(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    nfc, nfd = unicodedata.normalize("NFC", "Bürgerbüro"), unicodedata.normalize("NFD", "Bürgerbüro")
    (raw / f"{nfc}.txt").write_text(TEXT, encoding="utf-8")
    (raw / f"{nfd}.txt").write_text(TEXT + " Anders.", encoding="utf-8")
    code, output = run_cli(raw, tmp_path / "out")
    assert code == 0, output
    doc_ids = documents(tmp_path / "out")["doc_id"].tolist()
    assert len(set(doc_ids)) == 2
    assert all(unicodedata.is_normalized("NFC", doc_id) for doc_id in doc_ids)
    assert nfc in doc_ids and any(doc_id.startswith(f"{nfc}~") for doc_id in doc_ids)
    assert "normalisation" in line_about(output, "doc_id umbenannt")
    assert [row["kind"] for row in errors_rows(tmp_path / "out")] == [NOTE]


def test_reused_rows_keep_their_renamed_doc_ids(tmp_path: Path, ingest_config):
    raw, processed = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    (raw / "a.txt").write_text(TEXT, encoding="utf-8")
    (raw / "a.md").write_text(TEXT + " Anders.", encoding="utf-8")
    run_ingest(raw, processed, ingest_config)
    first = documents(processed)["doc_id"].tolist()
    again = run_ingest(raw, processed, ingest_config)
    assert again.reused == 2
    assert documents(processed)["doc_id"].tolist() == first
    assert len(set(first)) == 2


@pytest.mark.slow
def test_pipe_in_a_file_name_creates_no_spurious_person(tmp_path: Path):
    """The whole run: a surname mention in a document named "… | …" joins its full
    name, and the documents column lists the one document as one item."""
    from tests.conftest import write_run_config

    config = write_run_config(tmp_path)
    raw = tmp_path / "raw"
    raw.mkdir()
    config.write_text(
        config.read_text(encoding="utf-8").replace(str(REPO / "data" / "raw"), str(raw)), encoding="utf-8"
    )
    (raw / "Stadt Herne | Presse.txt").write_text(
        "Neues Bürgerbüro\n\nHerne, 12.11.2015 – Oberbürgermeisterin Annegret Kowalski hat das Bürgerbüro "
        "eröffnet. „Wir sind stolz“, sagte Kowalski bei der Eröffnung.\n",
        encoding="utf-8",
    )
    (raw / "sport.txt").write_text(
        "Neuer Trainer\n\nHerne, 13.11.2015 – Der Verein hat Jens Kowalski als Trainer verpflichtet. "
        "Kowalski kommt aus Bochum.\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    from pipeline.columns import read_table_csv

    people = read_table_csv(tmp_path / "processed" / "people.csv")
    assert sorted(people["canonical_name"]) == ["Annegret Kowalski", "Jens Kowalski"]
    assert "Stadt Herne ¦ Presse" in set(people["documents"])


def test_space_between_inline_elements_is_kept():
    text, _, _ = html_to_text("<p><a href='/r'>Rathaus</a> <b>Politik</b>\n<i>Kultur</i></p>")
    assert text.strip() == "Rathaus Politik Kultur"
