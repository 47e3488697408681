"""`presseabgleich show DOC`: one document as a page with marked, linked mentions."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.show import page_name, render_document
from tests.test_report_html import CHROMIUM, FLAGS

TEXT = "Oberbürgermeister Frank Dudda begrüßte in Herne <Gäste> & Freunde.\n\nKontakt: presse@herne.de"


def parts():
    def at(fragment: str) -> tuple[int, int]:
        start = TEXT.index(fragment)
        return start, start + len(fragment)

    rows = [
        ("m1", "PER", "Frank Dudda", ""),
        ("m2", "LOC", "Herne", ""),
        ("m3", "EMAIL", "presse@herne.de", "m1"),
        ("m4", "LOC", "Dudda", ""),  # overlaps m1: not marked twice
    ]
    mentions = pd.DataFrame(
        [
            {"doc_id": "d", "mention_id": m, "label": label, "text": text, "person_mention_id": person}
            | dict(zip(("start", "end"), at(text), strict=True))
            for m, label, text, person in rows
        ]
    )
    links = pd.DataFrame(
        {
            "mention_id": ["m1", "m2"],
            "entity_id": ["P-1", "L-1"],
            "doc_id": ["d", "d"],
            "text": ["Frank Dudda", "Herne"],
        }
    )
    entities = pd.DataFrame(
        {
            "entity_id": ["P-1", "L-1", "O-9"],
            "type": ["PER", "LOC", "ORG"],
            "canonical_name": ["Frank Dudda", "Herne", "Anderswo"],
            "canonical_status": ["confident"] * 3,
            "variants": [json.dumps(["Frank Dudda", "OB Dudda"]), json.dumps(["Herne"]), "[]"],
            "n_documents": [3, 2, 1],
        }
    )
    document = pd.Series(
        {
            "doc_id": "d",
            "title": "Empfang <im> Rathaus",
            "published": "2025-01-22",
            "issuer": "Stadt Herne",
            "text": TEXT,
        }
    )
    return document, mentions, links, entities


def test_page_marks_every_mention_links_it_and_escapes_the_text():
    page, n_marks = render_document(*parts())
    assert n_marks == 3
    assert page.count('<mark class="entity ') == 3
    assert '<mark class="entity PER" id="mention-m1" data-label="PER" data-entity="P-1"><a href="#entity-P-1"' in page
    assert '<mark class="entity EMAIL" id="mention-m3" data-label="EMAIL" data-entity="P-1">' in page  # its person
    assert '<tr id="entity-P-1">' in page and '<tr id="entity-L-1">' in page
    assert "entity-O-9" not in page  # only this document's entities
    assert "&lt;Gäste&gt; &amp; Freunde" in page and "Empfang &lt;im&gt; Rathaus" in page
    assert "<script" not in page and "http" not in page
    assert page.count("<p>") == 2  # the blank line is a paragraph break


def test_page_names_are_file_names():
    assert page_name("2025/herne-fachtag") == "2025_herne-fachtag.html"


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make browser)")
def test_page_renders_in_headless_chromium_with_its_marks(tmp_path):
    page_file = tmp_path / "show.html"
    page_file.write_text(render_document(*parts())[0], encoding="utf-8")
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--dump-dom", page_file.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    marks = re.findall(r'<mark class="entity (\w+)" id="mention-(\w+)"', dom)
    assert marks == [("PER", "m1"), ("LOC", "m2"), ("EMAIL", "m3")]
    for target in re.findall(r'<a href="#([^"]+)"', dom):
        assert f'<tr id="{target}">' in dom
    shot = tmp_path / "show.png"  # kept in pytest's tmp folder (--basetemp) as the test's artefact
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1000,700", page_file.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 5000


@pytest.mark.slow
def test_show_on_the_sample_run(sample_run, tmp_path):
    folder = tmp_path / "processed"
    shutil.copytree(sample_run, folder)
    doc_id = pd.read_parquet(folder / "documents.parquet")["doc_id"].iloc[0]
    result = CliRunner().invoke(app, ["show", doc_id, "--processed-dir", str(folder)])
    assert result.exit_code == 0, result.output
    page = (folder / "show" / page_name(doc_id)).read_text(encoding="utf-8")
    people = pd.read_parquet(folder / "entities.parquet").query("type == 'PER'")
    shown = set(re.findall(r'data-entity="(P-\w+)"', page))
    assert shown and shown <= set(people["entity_id"])
    missing = CliRunner().invoke(app, ["show", doc_id + "x", "--processed-dir", str(folder)])
    assert missing.exit_code == 1 and "did you mean" in missing.output and "Traceback" not in missing.output


def test_a_document_without_mentions_is_shown_as_plain_text():
    document, mentions, links, entities = parts()
    page, n_marks = render_document(document, mentions.iloc[0:0], links.iloc[0:0], entities)
    assert n_marks == 0 and "<mark" not in page and "&lt;Gäste&gt;" in page and "<table" not in page
