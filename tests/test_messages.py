"""The log and the review messages: German by default, English on request, one catalogue."""

import json
import re
import string
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.messages import LANGUAGES, MESSAGES, PROBLEMS_DE, problem_name, say, set_language


def placeholders(text: str) -> set[tuple[str, str | None, str | None]]:
    return {(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key):
    texts = MESSAGES[key]
    assert set(texts) == set(LANGUAGES)
    assert placeholders(texts["de"]) == placeholders(texts["en"]), key
    fields = {name: "x" for name, _, _ in placeholders(texts["en"])}
    for language in LANGUAGES:
        set_language(language)
        try:
            line = say(key, **fields)
        finally:
            set_language(None)
        assert line.strip() and (key == "model.none" or "\n" not in line)  # one line each (but the no-model advice)


def test_every_ingest_problem_has_a_german_name():
    package = resources.files("pipeline").joinpath("ingest")
    source = "\n".join(
        package.joinpath(name).read_text(encoding="utf-8")
        for name in ("files.py", "stage.py", "readers.py", "decoding.py")
    )
    named = set(re.findall(r'IngestProblem\(\s*[\w.]+,\s*"([^"{]+)"', source))
    named |= set(re.findall(r'SkipFile\(\s*"([^"]+)"', source))
    named |= set(re.findall(r'return "([^"]+)", ', source))
    assert {"empty", "unparseable", "symbolic link loop", "duplicate"} <= named
    assert named <= set(PROBLEMS_DE), named - set(PROBLEMS_DE)
    set_language("de")
    try:
        assert problem_name("unsupported file type .jpg") == "Dateityp wird nicht gelesen .jpg"
    finally:
        set_language(None)
    set_language("en")
    try:
        assert problem_name("empty") == "empty"
    finally:
        set_language(None)


def bad_input(tmp_path: Path) -> list[str]:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "meldung.txt").write_text("Oberbürgermeister Frank Dudda begrüßte die Gäste in Herne.", encoding="utf-8")
    (raw / "leer.txt").write_bytes(b"")
    (raw / "bild.jpg").write_bytes(b"\xff\xd8\xff")
    return ["ingest", "--raw-dir", str(raw), "--processed-dir", str(tmp_path / "out")]


def test_the_log_is_german_by_default(tmp_path):
    result = CliRunner().invoke(app, bad_input(tmp_path))
    lines = result.output.splitlines()
    assert "übersprungen: leer.txt: leer (file has 0 bytes)" in lines
    assert any(
        line.startswith("übersprungen: ") and "bild.jpg: Dateityp wird nicht gelesen .jpg" in line for line in lines
    )
    assert any(line.startswith("ingest: 1 Dokumente aus ") and "übersprungen: 2" in line for line in lines)
    assert re.search(r"^        ingest dauerte \d+,\d\d s$", result.output, re.M)
    empty = tmp_path / "leer"
    empty.mkdir()
    nothing = CliRunner().invoke(app, ["ingest", "--raw-dir", str(empty), "--processed-dir", str(tmp_path / "o2")])
    assert nothing.exit_code == 1 and "Fehler: keine verwendbaren Dokumente" in nothing.output
    missing = CliRunner().invoke(app, ["report", "--processed-dir", str(tmp_path / "nirgends")])
    assert (
        missing.exit_code == 1
        and "Fehler: " in missing.output
        and "fehlt: zuerst `python -m pipeline" in missing.output
    )


def test_language_en_as_option_config_or_environment_gives_english(tmp_path, monkeypatch):
    runner = CliRunner()
    english = runner.invoke(app, ["--language", "en", *bad_input(tmp_path)])
    assert "skipped leer.txt: empty (file has 0 bytes)" in english.output
    assert "übersprungen" not in english.output and re.search(
        r"^        ingest took \d+\.\d\d s$", english.output, re.M
    )
    (tmp_path / "again").mkdir()  # the next invocation starts afresh: German again
    assert "übersprungen: leer.txt" in runner.invoke(app, bad_input(tmp_path / "again")).output
    config = tmp_path / "en.toml"
    config.write_text('[report]\nlanguage = "en"\n', encoding="utf-8")
    (tmp_path / "c").mkdir()
    from_config = runner.invoke(app, [*bad_input(tmp_path / "c"), "--config", str(config)])
    assert "skipped leer.txt: empty" in from_config.output
    monkeypatch.setenv("PRESSEABGLEICH_LANGUAGE", "en")
    (tmp_path / "e").mkdir()
    assert "skipped leer.txt: empty" in runner.invoke(app, bad_input(tmp_path / "e")).output
    (tmp_path / "f").mkdir()  # the option beats the environment
    assert "übersprungen: leer.txt" in runner.invoke(app, ["--language", "de", *bad_input(tmp_path / "f")]).output
    monkeypatch.setenv("PRESSEABGLEICH_LANGUAGE", "fr")
    wrong = runner.invoke(app, ["report", "--processed-dir", str(tmp_path)])
    assert wrong.exit_code == 1 and wrong.output.startswith("Fehler: unbekannte Sprache 'fr' (PRESSEABGLEICH_LANGUAGE)")
    assert runner.invoke(app, ["--language", "xx", "report"]).exit_code == 1


def review_folder(tmp_path: Path) -> list[str]:
    """A processed folder with two entities, as `review` reads it; decisions go to tmp_path."""
    processed = tmp_path / "processed"
    processed.mkdir()
    pd.DataFrame(
        {
            "entity_id": ["P-1111111111", "L-2222222222"],
            "type": ["PER", "LOC"],
            "canonical_name": ["", "Herne"],
            "canonical_status": ["undecided", "confident"],
            "canonical_reason": ["tie", "only form"],
            "merged_ids": [json.dumps([]), json.dumps([])],
        }
    ).to_parquet(processed / "entities.parquet")
    config = tmp_path / "presseabgleich.toml"
    config.write_text(
        f'[paths]\nprocessed_dir = "{processed}"\ndecisions_file = "{tmp_path / "decisions.csv"}"\n', encoding="utf-8"
    )
    return ["--config", str(config)]


def test_review_answers_in_german_by_default_and_in_english_with_the_option(tmp_path):
    runner = CliRunner()
    args = review_folder(tmp_path)
    unknown = runner.invoke(app, ["review", "accept", "P-0000000000", *args])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Fehler: keine Person, kein Ort und keine Organisation mit der ID 'P-0000000000'")
    undecided = runner.invoke(app, ["review", "accept", "P-1111111111", *args])
    assert undecided.exit_code == 1 and "Fehler: für P-1111111111 gibt es keinen Vorschlag" in undecided.output
    mixed = runner.invoke(app, ["review", "same", "P-1111111111", "L-2222222222", *args])
    assert "Fehler: P-1111111111 ist vom Typ PER, L-2222222222 vom Typ LOC" in mixed.output
    assert (
        "Fehler: TYPE muss PER, LOC oder ORG sein"
        in runner.invoke(app, ["review", "retype", "L-2222222222", "XY", *args]).output
    )
    renamed = runner.invoke(app, ["review", "rename", "P-1111111111", "Frank Dudda", "--reviewer", "t", *args])
    assert renamed.exit_code == 0
    assert "Entscheidung 1 (rename P-1111111111 Frank Dudda) in " in renamed.output
    assert "eingetragen; sie gilt ab dem nächsten Lauf" in renamed.output
    no_such = runner.invoke(app, ["review", "undo", "7", *args])
    assert no_such.exit_code == 1 and no_such.output.startswith("Fehler: keine Entscheidung '7' in ")

    english = runner.invoke(app, ["--language", "en", "review", "accept", "P-0000000000", *args])
    assert english.output.startswith("error: no entity 'P-0000000000' in the last run's outputs")
    renamed = runner.invoke(app, ["--language", "en", "review", "ignore", "L-2222222222", "--reviewer", "t", *args])
    assert (
        "decision 2 (ignore L-2222222222) recorded in " in renamed.output
        and "it applies from the next run" in renamed.output
    )
    assert (
        "error: TYPE must be PER, LOC or ORG"
        in runner.invoke(app, ["--language", "en", "review", "retype", "L-2222222222", "XY", *args]).output
    )


@pytest.mark.slow
def test_review_list_speaks_the_chosen_language(sample_run):
    german = CliRunner().invoke(app, ["review", "list", "--processed-dir", str(sample_run)])
    assert german.exit_code == 0 and re.match(r"\d+ Abweichungen, \d+ mögliche Dubletten", german.output)
    assert " offen " in german.output and "(offen)" in german.output  # the undecided name
    english = CliRunner().invoke(app, ["--language", "en", "review", "list", "--processed-dir", str(sample_run)])
    assert re.match(r"\d+ discrepancies, \d+ possible duplicates", english.output) and "(undecided)" in english.output
