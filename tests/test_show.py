"""`presseabgleich show DOC`: one document as a page with marked, linked mentions."""

import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markupsafe
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.ingest import DOCUMENTS_FILE
from pipeline.review.report import COLUMNS, render_html
from pipeline.show import _escaped, page_name, render_document, write_pages
from tests.test_report_html import CHROMIUM, FLAGS

TEXT = "Oberbürgermeister Frank Dudda begrüßte in Herne <Gäste> & Freunde.\n\nKontakt: presse@herne.de"


def with_hashes(documents: pd.DataFrame) -> pd.DataFrame:
    """Document rows with their content hashes, as ingest writes them."""
    return documents.assign(content_hash=[hashlib.sha256(t.encode()).hexdigest() for t in documents["text"]])


def saved(documents: pd.DataFrame, processed: Path) -> pd.DataFrame:
    """`documents` as processed's documents.parquet, where the pages read their texts."""
    documents = with_hashes(documents)
    processed.mkdir(parents=True, exist_ok=True)
    documents.to_parquet(processed / DOCUMENTS_FILE, index=False)
    return documents


@pytest.mark.parametrize("text", ["", "Müller & Söhne", "<b>'a' \"b\"</b>", "&amp; schon", "ohne Zeichen"])
def test_page_escaping_is_markupsafes(text):
    assert _escaped(text) == str(markupsafe.escape(text))


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
    # m4 lies inside m1: not marked twice, but its anchor is there (the report links to it)
    assert (
        '<mark class="entity PER" id="mention-m1" data-label="PER" data-entity="P-1">'
        '<span id="mention-m4"></span><a href="#entity-P-1"'
    ) in page
    assert '<mark class="entity EMAIL" id="mention-m3" data-label="EMAIL" data-entity="P-1">' in page  # its person
    assert '<tr id="entity-P-1">' in page and '<tr id="entity-L-1">' in page
    assert "entity-O-9" not in page  # only this document's entities
    assert "&lt;Gäste&gt; &amp; Freunde" in page and "Empfang &lt;im&gt; Rathaus" in page
    assert "<script" not in page and "http" not in page
    assert page.count("<p>") == 2  # the blank line is a paragraph break


def test_page_names_are_safe_distinct_file_names():
    assert page_name("herne-fachtag-2025-01-22") == "herne-fachtag-2025-01-22.html"
    names = [page_name(d) for d in ("2025/herne-fachtag", "2025_herne-fachtag", "2025/Herne Fachtag", "../x", "CON")]
    assert len(set(names)) == len(names)
    assert names[0].startswith("2025_herne-fachtag-") and names[0] == page_name("2025/herne-fachtag")  # stable
    assert all(re.fullmatch(r"[\w.-]+\.html", n) and not n.startswith(".") for n in names)
    assert names[4] != "CON.html" and len(page_name("x" * 400)) < 120


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


class Links(HTMLParser):
    """The hrefs of a page's links and the ids of its elements."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "href" in values:
            self.hrefs.append(values["href"])


def parsed(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def check_show_links(report: Path) -> int:
    """Every link of the report to a document page points to a page on disk (relative to the
    report) and, with a fragment, to an element of that page; each page links back. Returns
    how many mention links there are."""
    n_mentions = 0
    for href in parsed(report).hrefs:
        url = urlsplit(href)
        if "/show/" not in f"/{url.path}":
            continue
        assert not url.scheme and not url.netloc and not url.path.startswith("/"), href  # relative
        page = report.parent / unquote(url.path)
        assert page.is_file(), href
        target = parsed(page)
        if url.fragment:
            assert unquote(url.fragment) in target.ids, href
            n_mentions += 1
        [back] = [h for h in target.hrefs if not h.startswith("#")]
        assert (page.parent / back).resolve() == report.resolve()
    return n_mentions


def test_the_report_links_each_mention_to_its_mark_on_the_document_page(tmp_path):
    document, mentions, links, entities = parts()
    documents = saved(pd.DataFrame([document.to_dict() | {"doc_id": "2025/d"}]), tmp_path)
    mentions, links = mentions.assign(doc_id="2025/d"), links.assign(doc_id="2025/d")
    links["sentence"] = TEXT.split("\n")[0]
    links.loc[1, "mention_id"] = "m4"  # a mention inside another one: its anchor is inside the outer mark
    pages = write_pages(tmp_path, documents, mentions, links, entities, report_page=tmp_path / "discrepancies.html")
    assert pages == {"2025/d": f"show/{page_name('2025/d')}"} and (tmp_path / pages["2025/d"]).is_file()
    discrepancy = ["D1", "open", "P-1", "PER", "typo", "[]", "{}", "Frank Dudda", "x", 0.9, "", "Frank Dudda", "[]"]
    report = tmp_path / "discrepancies.html"
    report.write_text(
        render_html(
            pd.DataFrame([discrepancy], columns=COLUMNS),
            links.assign(entity_id="P-1"),
            documents,
            {"2025/d": "../raw/2025/d.txt"},
            show_pages=pages,
        ),
        encoding="utf-8",
    )
    assert 'href="../raw/2025/d.txt"' in report.read_text(encoding="utf-8")  # the source file link stays
    assert check_show_links(report) >= 2
    # a page of a document that is gone is removed, the others stay
    (tmp_path / "show" / "alt.html").write_text("<p>alt</p>", encoding="utf-8")
    write_pages(tmp_path, documents, mentions, links, entities, report_page=report)
    assert sorted(p.name for p in (tmp_path / "show").glob("*.html")) == [page_name("2025/d")]


@pytest.mark.slow
def test_the_sample_run_report_links_to_document_pages_that_exist(sample_run):
    documents = pd.read_parquet(sample_run / "documents.parquet")
    assert {p.name for p in (sample_run / "show").glob("*.html")} == {page_name(d) for d in documents["doc_id"]}
    assert check_show_links(sample_run / "discrepancies.html") >= 2


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make browser)")
def test_a_browser_follows_the_report_link_to_the_marked_mention(tmp_path):
    test_the_report_links_each_mention_to_its_mark_on_the_document_page(tmp_path)
    report = tmp_path / "discrepancies.html"
    href = next(h for h in parsed(report).hrefs if "/show/" in h and "#" in h)
    target = report.parent.as_uri() + "/" + href.removeprefix("./")
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--dump-dom", target], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert f'id="{unquote(urlsplit(href).fragment)}"' in dom and "Frank Dudda" in dom
    shot = tmp_path / "followed.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1000,700", target],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 5000


def test_a_rerun_rewrites_only_the_pages_whose_content_changed(sample_run, tmp_path):
    from pipeline.show import SHOW_DIR

    processed = tmp_path / "processed"
    shutil.copytree(sample_run, processed)
    tables = {
        name: pd.read_parquet(processed / f"{name}.parquet")
        for name in ("documents", "mentions", "mention_entities", "entities")
    }

    def pages() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in (processed / SHOW_DIR).glob("*.html")}

    def write(entities: pd.DataFrame) -> None:
        write_pages(
            processed,
            tables["documents"],
            tables["mentions"],
            tables["mention_entities"],
            entities,
            report_page=processed / "discrepancies.html",
        )

    write(tables["entities"])
    before = pages()
    write(tables["entities"])
    assert pages() == before  # nothing changed, nothing rewritten
    # a renamed entity changes the pages of the documents that mention it, and only those
    renamed = tables["entities"].copy()
    entity_id = renamed.loc[0, "entity_id"]
    renamed.loc[0, "canonical_name"] = "Umbenannt"
    links = tables["mention_entities"]
    touched = {page_name(d) for d in links.loc[links["entity_id"] == entity_id, "doc_id"]}
    write(renamed)
    after = pages()
    assert {name for name in after if after[name] != before[name]} == touched
    assert all("Umbenannt" in (processed / SHOW_DIR / name).read_text(encoding="utf-8") for name in touched)
    # a lost page is written again
    lost = next(iter(before))
    (processed / SHOW_DIR / lost).unlink()
    write(renamed)
    assert (processed / SHOW_DIR / lost).is_file()


def test_a_page_fingerprint_changes_with_everything_its_page_shows_and_only_its_own():
    from pipeline.show import page_fingerprints

    document, mentions, links, entities = parts()
    other = document.copy()
    other["doc_id"] = "e"
    documents = with_hashes(pd.DataFrame([document, other]))
    # the other document has the same mentions and entities (another copy of the text)
    mentions = pd.concat([mentions, mentions.assign(doc_id="e", mention_id=mentions["mention_id"] + "e")])
    links = pd.concat([links, links.assign(doc_id="e", mention_id=links["mention_id"] + "e")])
    before = page_fingerprints(documents, mentions, links, entities)
    assert len(set(before)) == 2 and page_fingerprints(documents, mentions, links, entities) == before

    def changed(docs=documents, marks=mentions, linked=links, rows=entities) -> list[bool]:
        after = page_fingerprints(docs, marks.reset_index(drop=True), linked.reset_index(drop=True), rows)
        return [a != b for a, b in zip(before, after, strict=True)]

    first = mentions["doc_id"] == "d"
    assert changed(docs=documents.assign(title=["Neu", document["title"]])) == [True, False]
    assert changed(docs=with_hashes(documents.assign(text=[TEXT, TEXT + " "]))) == [False, True]
    assert changed(marks=mentions.assign(label=mentions["label"].where(~first, "ORG"))) == [True, False]
    swapped = pd.concat([mentions[first].iloc[::-1], mentions[~first]])  # the order of the marks counts
    assert changed(marks=swapped) == [True, False]
    assert changed(marks=mentions[mentions["mention_id"] != "m3e"]) == [False, True]
    assert changed(linked=links.assign(text=links["text"].where(links["mention_id"] != "m2", "Herne!"))) == [
        True,
        False,
    ]
    # an entity row shown on both pages, and one shown on neither
    assert changed(rows=entities.assign(variants=entities["variants"].where(entities["entity_id"] != "L-1", "[]"))) == [
        True,
        True,
    ]
    assert changed(rows=entities.assign(canonical_name=["Frank Dudda", "Herne", "Woanders"])) == [False, False]
    assert changed(rows=entities[entities["entity_id"] != "P-1"]) == [True, True]


def test_pages_take_their_texts_from_the_documents_file_not_the_table_given(tmp_path):
    """The report hands write_pages its document rows without texts; each page reads
    its text from documents.parquet (here in row groups of two documents)."""
    from pipeline.show import PAGE_COLUMNS

    document, mentions, links, entities = parts()
    texts = [TEXT.replace("Herne", city) for city in ("Herne", "Bochum", "Hagen", "Witten", "Hattingen")]
    full = with_hashes(pd.DataFrame([document.to_dict() | {"doc_id": f"d{i}", "text": t} for i, t in enumerate(texts)]))
    full.to_parquet(tmp_path / DOCUMENTS_FILE, index=False, row_group_size=2)
    pages = write_pages(tmp_path, full[PAGE_COLUMNS], mentions.iloc[:0], links.iloc[:0], entities, tmp_path / "r.html")
    assert len(pages) == 5
    for row in full.itertuples(index=False):
        page = (tmp_path / pages[row.doc_id]).read_text(encoding="utf-8")
        expected, _ = render_document(row, mentions.iloc[:0], links.iloc[:0], entities, report_href="../r.html")
        assert page == expected
        assert _escaped(row.text.split("\n")[0]) in page


def test_the_report_reads_no_texts_of_the_documents(sample_run, tmp_path, monkeypatch):
    from pipeline.config import load_config
    from pipeline.review import report

    processed = tmp_path / "processed"
    shutil.copytree(sample_run, processed)
    shutil.rmtree(processed / "show")
    read: list = []
    real_read = report.read_columns

    def reading(path, stage, columns=None):
        if Path(path).name == DOCUMENTS_FILE:
            read.append(columns)
        return real_read(path, stage, columns)

    monkeypatch.setattr(report, "read_columns", reading)
    config = load_config()
    config["paths"]["decisions_file"] = str(tmp_path / "decisions.csv")
    report.run_report(processed, config)
    assert len(read) == 1 and "text" not in read[0]
    pages = sorted(p.name for p in (processed / "show").glob("*.html"))
    assert pages == sorted(p.name for p in (sample_run / "show").glob("*.html"))
    for name in pages:
        assert (processed / "show" / name).read_bytes() == (sample_run / "show" / name).read_bytes()


def test_a_page_written_from_another_text_than_its_fingerprints_is_written_again(tmp_path):
    """documents.parquet changed between the report's read and the pages' (a run beside
    it): the page shows the file's text, and is not recorded as up to date, so the next
    report writes it from the text it names."""
    document, mentions, links, entities = parts()
    old = saved(pd.DataFrame([document.to_dict()]), tmp_path)
    newer = with_hashes(old.assign(text=[TEXT.replace("Freunde", "Nachbarn")]))
    pages = write_pages(tmp_path, newer, mentions, links, entities, tmp_path / "r.html")
    page = tmp_path / pages["d"]
    assert "Freunde" in page.read_text(encoding="utf-8")
    assert page.name not in json.loads((tmp_path / "show" / ".pages.json").read_text(encoding="utf-8"))["pages"]
    saved(newer, tmp_path)
    write_pages(tmp_path, newer, mentions, links, entities, tmp_path / "r.html")
    assert "Nachbarn" in page.read_text(encoding="utf-8")
