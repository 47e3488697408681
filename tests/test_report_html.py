"""The HTML report in a real headless browser (Debian's chromium; .ci/run installs it)."""

import shutil
import subprocess

import pandas as pd
import pytest

from pipeline.review.report import COLUMNS, render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def report_page(tmp_path):
    evil = '<script>document.title="pwned"</script>Ayşe & "Co"'
    discrepancies = pd.DataFrame(
        [
            [
                "D0001",
                "open",
                "P-1",
                "PER",
                "encoding",
                '["Aylý Demir", "Ayli Demir"]',
                "{}",
                "Aylı Demir",
                "why",
                0.9,
                "",
                "Aylı Demir",
                '["Aylý Demir", "Ayli Demir"]',
            ],
            ["D0002", "decided", "P-2", "PER", "typo", "[]", "{}", evil, "x", 0.5, "3", evil, "[]"],
        ],
        columns=COLUMNS,
    )
    links = pd.DataFrame(
        {
            "entity_id": ["P-1", "P-1", "P-2"],
            "doc_id": ["a", "b", "a"],
            "text": ["Aylý Demir", "Ayli Demir", evil],
            "sentence": ["Es sprach Aylý Demir heute.", "Es sprach Ayli Demir.", f"Zitat {evil} Ende"],
        }
    )
    documents = pd.DataFrame({"doc_id": ["a", "b"], "title": ["Erste <Meldung>", ""]})
    page = tmp_path / "report.html"
    page.write_text(
        render_html(discrepancies, links, documents, {"a": "../raw/a.txt", "b": "../raw/b.md"}), encoding="utf-8"
    )
    return page


def test_report_is_self_contained_and_escaped(tmp_path):
    text = report_page(tmp_path).read_text(encoding="utf-8")
    assert "<script>" not in text and "http" not in text
    assert "&lt;script&gt;" in text and "<mark>Aylý Demir</mark>" in text
    assert 'href="../raw/a.txt"' in text
    # the open name discrepancy says how to decide it, as a command and as a decisions.csv row
    assert "presseabgleich review accept P-1" in text and ";accept;P-1;Aylı Demir;;;;" in text


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run / make test as root)")
def test_report_renders_in_headless_chromium(tmp_path):
    page = report_page(tmp_path)
    profile = tmp_path / "profile"
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert dom.count('<section class="card open" id="D0001"') == 1 and 'id="D0002"' in dom
    assert 'id="e-P-1"' in dom  # the entity's mentions, linked from its card
    assert "pwned" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 5000
