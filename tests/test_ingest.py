import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import EXIT_PARTIAL, app
from pipeline.config import load_config
from pipeline.ingest import (
    DOCUMENTS_FILE,
    ERRORS_FILE,
    decode_bytes,
    ingest_files,
    load_offset_map,
    source_offset,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def ingest_config():
    return load_config()["ingest"]


def test_sample_corpus_metadata(ingest_config):
    result = ingest_files(REPO / "data" / "raw", ingest_config)
    assert result.problems == []
    docs = {d.doc_id: d for d in result.documents}
    hagen = docs["hagen-pressemitteilung-2025-01-30"]
    assert hagen.source_format == "markdown"
    assert hagen.published == "2025-01-30" and hagen.date_source == "dateline"
    assert hagen.issuer == "Stadt Hagen"
    assert hagen.title.startswith("Fachtag von")
    assert "**" not in hagen.text and "](" not in hagen.text and "#" not in hagen.text
    herne = docs["herne-fachtag-2025-01-22"]
    assert herne.source_format == "text"
    assert herne.published == "2025-01-22" and herne.date_source == "filename"


def test_offset_map_points_back_into_the_source(ingest_config):
    for document in ingest_files(REPO / "data" / "raw", ingest_config).documents:
        source = (REPO / "data" / "raw" / document.source_path).read_text(encoding="utf-8")
        segments = load_offset_map(
            __import__("json").dumps([[s.text_start, s.source_start, s.length, s.exact] for s in document.offset_map])
        )
        checked = 0
        for word in ("Kühner", "Sevindim", "Lüngen", "Längen", "Merkendorf", "stadt-hagen.de"):
            start = document.text.find(word)
            if start < 0:
                continue
            position = source_offset(segments, start)
            assert source[position : position + len(word)] == word
            checked += 1
        assert checked >= 2


def test_html_is_parsed_not_stripped_with_regexes(tmp_path: Path, ingest_config):
    (tmp_path / "release.html").write_text(
        "<html><head><title>Neue Kita in Bochum</title><style>p{color:red}</style></head>"
        "<body><p>Bochum, 3.&nbsp;März &amp; mehr: <b>Oberbürgermeister</b> Thomas Eiskirch "
        "eröffnet&hellip;</p><script>var x = '<p>nein</p>';</script></body></html>",
        encoding="utf-8",
    )
    [document] = ingest_files(tmp_path, ingest_config).documents
    assert document.title == "Neue Kita in Bochum"
    assert "März & mehr: Oberbürgermeister Thomas Eiskirch eröffnet…" in document.text
    assert "color" not in document.text and "nein" not in document.text


def test_bad_files_are_reported_and_good_ones_processed(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.txt").write_bytes(b"")
    (raw / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (raw / "windows.txt").write_bytes("Die Bürgermeisterin von Hagen grüßt.".encode("cp1252"))
    (raw / "bom.md").write_bytes("\ufeff# Pressemitteilung\n\nHerne, 1. März 2024 – Größte Öffnung.".encode("utf-8"))
    with open(raw / "huge.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
        handle.seek(0)
        handle.write(b"Ein sehr langer Text. ")
    processed = tmp_path / "processed"
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--processed-dir", str(processed)])
    assert result.exit_code == EXIT_PARTIAL, result.output
    docs = pd.read_parquet(processed / DOCUMENTS_FILE).set_index("doc_id")
    assert set(docs.index) == {"windows", "bom"}
    assert "Bürgermeisterin" in docs.loc["windows", "text"]
    assert docs.loc["bom", "text"].startswith("Pressemitteilung")
    errors = pd.read_csv(processed / ERRORS_FILE)
    problems = dict(zip(errors["file"].map(lambda f: Path(f).name), errors["problem"], strict=False))
    assert problems == {"empty.txt": "empty", "binary.txt": "binary", "huge.txt": "too large"}
    for name in ("empty.txt", "binary.txt", "huge.txt"):
        assert name in result.output


def test_duplicates_and_outside_symlinks(tmp_path: Path, ingest_config):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Die Stadt Essen informiert.", encoding="utf-8")
    (raw / "b copy (1).txt").write_text("Die Stadt Essen informiert.", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim", encoding="utf-8")
    os.symlink(secret, raw / "link.txt")
    result = ingest_files(raw, ingest_config)
    assert [d.doc_id for d in result.documents] == ["a"]
    assert {Path(p.file).name: p.problem for p in result.problems} == {"link.txt": "outside input folder"}
    assert {Path(p.file).name: (p.problem, p.kind) for p in result.notes} == {"b copy (1).txt": ("duplicate", "note")}


def test_turkish_codepage_is_detected_not_guessed_as_western(ingest_config):
    text = "Aslı Sevindim und Şeyma Doğan sprachen über Integration in Nordrhein-Westfalen."
    decoded, encoding = decode_bytes(text.encode("cp1254"), ingest_config["candidate_encodings"])
    assert decoded == text, encoding


def test_missing_input_folder_fails_clearly(tmp_path: Path):
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(tmp_path / "nope"), "--processed-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_german_windows_1252_stays_western(ingest_config):
    text = "Größere Förderung für Bürgerinnen: Straßenfest am Rhein, «Café» geöffnet."
    decoded, encoding = decode_bytes(text.encode("cp1252"), ingest_config["candidate_encodings"])
    assert decoded == text, encoding


def test_unchanged_files_are_not_read_again(tmp_path: Path, ingest_config):
    """A second run reuses every unchanged file's row (same bytes out); an edited file,
    a new file and changed [ingest] settings are read again."""
    from pipeline.ingest import run_ingest

    raw, processed = tmp_path / "raw", tmp_path / "processed"
    raw.mkdir()
    for n in range(3):
        (raw / f"meldung-{n}.txt").write_text(f"Meldung {n}\n\nHagen, 3. März 2025 – Text {n}.", encoding="utf-8")
    first = run_ingest(raw, processed, ingest_config)
    before = (processed / DOCUMENTS_FILE).read_bytes()
    assert first.reused == 0 and first.kept == 3

    again = run_ingest(raw, processed, ingest_config)
    assert again.reused == 3
    assert (processed / DOCUMENTS_FILE).read_bytes() == before

    edited = raw / "meldung-1.txt"
    edited.write_text("Meldung 1\n\nHerne, 4. März 2025 – Ganz anderer Text.", encoding="utf-8")
    os.utime(edited, ns=(edited.stat().st_atime_ns, edited.stat().st_mtime_ns + 1_000_000_000))
    (raw / "meldung-9.txt").write_text("Neu\n\nBochum, 5. März 2025 – Neu.", encoding="utf-8")
    third = run_ingest(raw, processed, ingest_config)
    assert third.reused == 2 and third.kept == 4
    documents = pd.read_parquet(processed / DOCUMENTS_FILE).set_index("doc_id")
    assert "Ganz anderer Text" in documents.loc["meldung-1", "text"]

    changed = {**ingest_config, "min_printable_ratio": 0.9}
    assert run_ingest(raw, processed, changed).reused == 0
