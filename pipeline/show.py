"""One document as an HTML page with every mention highlighted, like spaCy's displaCy.

`presseabgleich show DOC` writes the page: the document's text with each mention
marked in the colour of its type (displaCy's palette) and labelled, and linked to
its row in the page's table of people, places and organisations (ID, canonical
name, spellings: the same ID as in people.csv & co., which have the counts). A page
shows nothing that changes with other documents but the entities' names and spellings,
so a re-run rewrites only the pages whose document, mentions or entities changed.
Contacts (e-mail, phone, fax, web and postal addresses) are marked too and link
to the person they belong to. The page is self-contained (no scripts, no
network); Jinja2 escapes every text from the documents.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from pipeline.ingest import DOCUMENTS_FILE, document_rows
from pipeline.io import code_key, is_in, read_parquet, write_small_texts_atomic, write_text_atomic
from pipeline.resolve import ENTITIES_FILE, MENTION_ENTITIES_FILE
from pipeline.stage_files import MENTIONS_FILE

SHOW_DIR = "show"
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
MAX_NAME_CHARS = 100  # of a page's file name stem: paths on Windows end at 260 characters
# displaCy's colours where it has the type; contacts share one colour
COLOURS = {
    "PER": "#aa9cfc",
    "LOC": "#ff9561",
    "ORG": "#7aecec",
    "MISC": "#e4e7d2",
    "EMAIL": "#c887fb",
    "PHONE": "#c887fb",
    "FAX": "#c887fb",
    "URL": "#c887fb",
    "ADDRESS": "#c887fb",
}
TYPE_NAMES = {"PER": "Personen", "LOC": "Orte", "ORG": "Organisationen"}

TEMPLATE = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#222;background:#fafafa;line-height:1.6}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.meta{color:#666;font-size:.9rem}
.text{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem 1.4rem;line-height:2.4}
.text p{margin:.4rem 0}
mark.entity{padding:.2em .35em;margin:0 .1em;border-radius:.35em;line-height:1}
mark.entity a{color:inherit;text-decoration:none}
mark.entity .label{font-size:.6em;font-weight:700;text-transform:uppercase;vertical-align:middle;margin-left:.4rem}
{% for label, colour in colours.items() %}mark.entity.{{ label }}{background:{{ colour }}}
{% endfor %}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
tr:target{outline:3px solid #15c}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:.2em;vertical-align:middle}
</style>
</head>
<body>
{% if report_href %}<p class="meta"><a href="{{ report_href }}" class="report">← Presseabgleich: zu prüfen</a></p>
{% endif %}<h1>{{ title }}</h1>
<p class="meta">Dokument {{ doc_id }}{% if published %} · {{ published }}{% endif %}{% if issuer %} · {{ issuer }}{% endif %} · {{ n_marks }} Erwähnungen</p>
<div class="text">
{{ body }}</div>
{{ tables }}
</body>
</html>
"""


def row_anchor(entity_id: str) -> str:
    return f"entity-{entity_id}"


def mention_anchor(mention_id: str) -> str:
    """The id of a mention's mark on its document's page (what the report links to)."""
    return f"mention-{mention_id}"


def page_name(doc_id: str) -> str:
    """A file name for the document's page, safe on every file system and stable across
    runs. A doc_id may contain folders and any character: those become "_", and a name
    so changed (or shortened) gets a hash of the doc_id, so "2025/a" and "2025_a" differ."""
    stem = re.sub(r"[^\w.-]+", "_", doc_id).strip("._")[:MAX_NAME_CHARS]
    if stem != doc_id or stem.upper() in WINDOWS_RESERVED:
        stem = f"{stem or 'document'}-{hashlib.sha1(doc_id.encode()).hexdigest()[:8]}"
    return stem + ".html"


WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}


class Mark(NamedTuple):
    """A mention as the page needs it."""

    mention_id: str
    label: str
    start: int
    end: int
    person_mention_id: str = ""


def marks_by_document(mentions: pd.DataFrame) -> dict[str, list[Mark]]:
    """The mentions of mentions.parquet that have text, by doc_id (plain tuples: walking
    them costs a fraction of a DataFrame's rows)."""
    people = mentions["person_mention_id"].tolist() if "person_mention_id" in mentions.columns else [""] * len(mentions)
    by_doc: dict[str, list[Mark]] = {}
    lists = [mentions[c].tolist() for c in ["doc_id", "mention_id", "label", "start", "end"]]
    for doc_id, mention_id, label, start, end, person in zip(*lists, people, strict=True):
        if end > start:
            by_doc.setdefault(doc_id, []).append(Mark(mention_id, label, int(start), int(end), person or ""))
    return by_doc


def links_by_document(links: pd.DataFrame) -> dict[str, list[tuple[str, str, str]]]:
    """(mention_id, entity_id, text) of mention_entities.parquet, by doc_id."""
    by_doc: dict[str, list[tuple[str, str, str]]] = {}
    lists = [links[c].tolist() for c in ["doc_id", "mention_id", "entity_id", "text"]]
    for doc_id, *values in zip(*lists, strict=True):
        by_doc.setdefault(doc_id, []).append(tuple(values))
    return by_doc


def entity_rows(entities: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """entity_id → what a page needs of the entity: its type and name (to sort the tables)
    and "html", its table row up to the page's own cell, escaped once for all the pages
    that show the entity."""
    rows = {}
    for entity_id, type_, name, status, variants in zip(
        *[entities[c].tolist() for c in ["entity_id", "type", "canonical_name", "canonical_status", "variants"]],
        strict=True,
    ):
        spellings = " | ".join(json.loads(variants)) if variants else ""
        cells = "".join(f"<td>{_escaped(str(value))}</td>" for value in (entity_id, name, status, spellings))
        html = f'<tr id="{_escaped(row_anchor(entity_id))}">{cells}'
        rows[entity_id] = {"type": type_, "entity_id": entity_id, "name": name, "html": html}
    return rows


def _non_overlapping(marks: list[Mark]) -> tuple[list[Mark], dict[str, list[str]]]:
    """Mentions that can be marked in a flat text: where spans overlap (a place
    inside an organisation's name), the longer, outer one is marked. Also: the
    mention IDs each marked mention covers (they get an anchor inside its mark)."""
    kept: list[Mark] = []
    reached = -1
    covered: dict[str, list[str]] = {}
    for mark in sorted(marks, key=lambda m: (m.start, m.start - m.end)):
        if mark.start >= reached:
            kept.append(mark)
            reached = mark.end
        elif kept:
            covered.setdefault(kept[-1].mention_id, []).append(mark.mention_id)
    return kept, covered


def text_html(
    text: str, marks: list[Mark], entity_of: dict[str, str], covered: dict[str, list[str]] | None = None
) -> markupsafe.Markup:
    """The text cut into paragraphs (at blank lines), each a <p> of escaped plain text and
    marked mentions (`marks`: not overlapping, in order). Built as strings, not template
    loops: a page has hundreds of pieces, a corpus millions."""
    paragraphs: list[list[str]] = [[]]

    def plain(chunk: str) -> None:
        parts = PARAGRAPH_BREAK.split(chunk) if "\n" in chunk else (chunk,)
        for index, part in enumerate(parts):
            if index:
                paragraphs.append([])
            if part:
                paragraphs[-1].append(_escaped(part))

    position = 0
    for mark in marks:
        if mark.start > position:
            plain(text[position : mark.start])
        entity_id = entity_of.get(mark.mention_id) or entity_of.get(mark.person_mention_id, "")
        paragraphs[-1].append(
            _mark_html(mark, text[mark.start : mark.end], entity_id, (covered or {}).get(mark.mention_id, ()))
        )
        position = mark.end
    plain(text[position:])
    return markupsafe.Markup("".join(f"<p>{''.join(p)}</p>\n" for p in paragraphs if p))


def _mark_html(mark: Mark, text: str, entity_id: str, inner: Iterable[str]) -> str:
    """One marked mention, linked to its entity's row; `inner`: the mentions inside it (a
    place in an organisation's name), not marked themselves but anchored for the report."""
    label = _escaped(mark.label)
    opening = f'<mark class="entity {label}" id="{_escaped(mention_anchor(mark.mention_id))}" data-label="{label}"'
    shown = _escaped(text)
    if entity_id:
        entity = _escaped(entity_id)
        opening += f' data-entity="{entity}"'
        shown = f'<a href="#{_escaped(row_anchor(entity_id))}" title="{entity}">{shown}</a>'
    anchors = "".join(f'<span id="{_escaped(mention_anchor(m))}"></span>' for m in inner)
    return f'{opening}>{anchors}{shown}<span class="label">{label}</span></mark>'


@functools.cache
def _template() -> jinja2.Template:
    """Compiled once: compiling costs more than rendering a page."""
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(TEMPLATE)


def _escaped(text: str) -> str:
    """`text` escaped as markupsafe escapes it (the same five characters, the same entities),
    without a Markup object per piece: a page has hundreds of pieces, a corpus millions."""
    return (
        text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")
    )


def _tables_html(tables: list[tuple[str, list[tuple[dict[str, Any], str]]]]) -> markupsafe.Markup:
    """The page's tables of people, places and organisations, every cell escaped."""
    parts = []
    for type_, rows in tables:
        parts.append(
            f'\n<h2><span class="swatch" style="background:{_escaped(COLOURS[type_])}"></span> '
            f'{_escaped(TYPE_NAMES[type_])}</h2>\n<table class="entities {_escaped(type_)}">\n'
            "<thead><tr><th>ID</th><th>Name</th><th>Status des Namens</th><th>Schreibweisen</th>"
            "<th>Erwähnungen hier</th></tr></thead>\n<tbody>\n"
        )
        for row, here in rows:  # here: this page's spellings of the entity
            parts.append(f"{row['html']}<td>{_escaped(here)}</td></tr>\n")
        parts.append("</tbody>\n</table>\n")
    return markupsafe.Markup("".join(parts))


def _render(
    document: Any,
    marks: list[Mark],
    links: list[tuple[str, str, str]],
    rows: dict[str, dict[str, Any]],
    report_href: str,
) -> tuple[str, int]:
    entity_of = {mention_id: entity_id for mention_id, entity_id, _ in links}
    kept, covered = _non_overlapping(marks)
    here: dict[str, set[str]] = {}
    for _, entity_id, text in links:
        here.setdefault(entity_id, set()).add(text)
    shown = sorted((rows[e] for e in here if e in rows), key=lambda row: row["name"])
    tables = []
    for type_ in TYPE_NAMES:
        of_type = [(row, " | ".join(sorted(here[row["entity_id"]]))) for row in shown if row["type"] == type_]
        if of_type:
            tables.append((type_, of_type))
    page = _template().render(
        title=document.title or document.doc_id,
        doc_id=document.doc_id,
        published=document.published,
        issuer=document.issuer,
        n_marks=len(kept),
        body=text_html(document.text, kept, entity_of, covered),
        tables=_tables_html(tables),
        colours=COLOURS,
        report_href=report_href,
    )
    return page, len(kept)


def render_document(
    document: Any, mentions: pd.DataFrame, links: pd.DataFrame, entities: pd.DataFrame, report_href: str = ""
) -> tuple[str, int]:
    """The page of one document (a row of documents.parquet) and how many mentions it marks.
    `mentions`, `links`: that document's rows of mentions.parquet and mention_entities.parquet.
    `report_href`: a relative link back to the report page, or "" for none."""
    doc_id = document.doc_id
    return _render(
        document,
        marks_by_document(mentions).get(doc_id, []),
        links_by_document(links).get(doc_id, []),
        entity_rows(entities),
        report_href,
    )


class UnknownDocument(LookupError):
    """The doc_id is not among the last run's documents."""


def report_link(page_folder: Path, report_page: Path) -> str:
    """The relative link from a page in `page_folder` back to the report page."""
    from pipeline.review.report import file_link

    return file_link(Path(os.path.relpath(report_page, page_folder)).as_posix())


def write_pages(
    processed_dir: Path,
    documents: pd.DataFrame,
    mentions: pd.DataFrame,
    links: pd.DataFrame,
    entities: pd.DataFrame,
    report_page: Path,
    doc_ids: Iterable[str] | None = None,
) -> dict[str, str]:
    """Write the page of each document (of `doc_ids`, default all) into processed/show/,
    each linking back to `report_page`. Returns doc_id → the page's path relative to
    `processed_dir` ("show/<page_name>"), for the report's links. Pages of documents
    no longer in the run are removed, so no page in the folder is of a document that is gone.

    `documents`: rows of processed_dir's documents.parquet with at least PAGE_COLUMNS; the
    texts of the pages written are read from that file a row group at a time, so the
    pages of a whole corpus never hold all its texts."""
    folder = processed_dir / SHOW_DIR
    chosen = documents if doc_ids is None else documents[documents["doc_id"].isin(set(doc_ids))]
    back = report_link(folder, report_page)
    index_file = folder / PAGES_INDEX
    code = code_key([back], ["show.py"])  # a page shows its link back to the report
    previous = _read_index(index_file, code)
    entries = list(os.scandir(folder)) if folder.is_dir() else []
    there = {entry.name for entry in entries if entry.is_file()}
    names = [page_name(doc_id) for doc_id in chosen["doc_id"].tolist()]
    shown = page_fingerprints(chosen, mentions, links, entities)
    fingerprints = dict(zip(names, shown, strict=True))
    # the same document, mentions and entity rows: the same page
    todo = [previous.get(name) != new or name not in there for name, new in zip(names, shown, strict=True)]
    if any(todo):
        changed = chosen[todo]
        wanted = set(changed["doc_id"].tolist())
        changed_links = links[is_in(links["doc_id"], wanted)]
        marks = marks_by_document(mentions[is_in(mentions["doc_id"], wanted)])
        links_of = links_by_document(changed_links)
        rows = entity_rows(entities[is_in(entities["entity_id"], set(changed_links["entity_id"].tolist()))])
        headers = {row[0]: row for row in changed[PAGE_COLUMNS].itertuples(index=False, name=None)}
        texts = document_rows(processed_dir / DOCUMENTS_FILE, wanted, ["doc_id", "text", "content_hash"])
        as_fingerprinted: set[str] = set()  # pages written from the text their fingerprint names

        def pages() -> Iterator[tuple[Path, str]]:
            for doc_id, text, content_hash in texts:
                header = headers[doc_id]
                if content_hash == header[-1]:
                    as_fingerprinted.add(page_name(doc_id))
                document = PageDocument(*header[:-1], text)
                marked, links_here = marks.get(doc_id, []), links_of.get(doc_id, [])
                yield folder / page_name(doc_id), _render(document, marked, links_here, rows, back)[0]

        folder.mkdir(parents=True, exist_ok=True)
        # not durable: a later report makes a lost page again
        write_small_texts_atomic(pages())
        # a page not written, or written from another text than its fingerprint's (the
        # file changed meanwhile), is not recorded: the next report writes it again
        unwritten = {name for name, do in zip(names, todo, strict=True) if do} - as_fingerprinted
        fingerprints = {name: f for name, f in fingerprints.items() if name not in unwritten}
    if folder.is_dir():
        keep = set(names) if doc_ids is None else {page_name(d) for d in documents["doc_id"].tolist()}
        for entry in entries:
            if fnmatch.fnmatch(entry.name, "*.html") and entry.name not in keep:
                Path(entry.path).unlink(missing_ok=True)
        kept = {name: f for name, f in previous.items() if name in keep and name not in fingerprints}
        write_text_atomic(index_file, json.dumps({"code": code, "pages": kept | fingerprints}), durable=False)
    return {doc_id: f"{SHOW_DIR}/{name}" for doc_id, name in zip(chosen["doc_id"].tolist(), names, strict=True)}


# what a page shows of its document's row, and the hash of its text (ingest's content_hash)
PAGE_COLUMNS = ["doc_id", "title", "published", "issuer", "content_hash"]


class PageDocument(NamedTuple):
    doc_id: str
    title: str
    published: str
    issuer: str
    text: str


PAGES_INDEX = ".pages.json"  # page → fingerprint of what it shows: a re-run rewrites only changed pages


def page_fingerprints(
    documents: pd.DataFrame, mentions: pd.DataFrame, links: pd.DataFrame, entities: pd.DataFrame
) -> list[str]:
    """A hash of everything each document's page shows (its document row, the text by its
    content hash, its marks and links in order, the rows of its entities), computed
    column-wise for all documents at once: a corpus has tens of thousands of pages and
    almost all stay as they are."""
    codes, doc_ids = pd.factorize(documents["doc_id"], use_na_sentinel=False)
    position = pd.Index(doc_ids)
    marks = mentions[mentions["end"] > mentions["start"]]
    people = marks["person_mention_id"] if "person_mention_id" in marks.columns else ""
    rows = entities.drop_duplicates("entity_id", keep="last")  # as entity_rows: the last row counts
    shown = _row_hashes(rows[["entity_id", "type", "canonical_name", "canonical_status", "variants"]])
    pairs = links[["doc_id", "entity_id"]].drop_duplicates()
    where = pd.Index(rows["entity_id"]).get_indexer(pairs["entity_id"])
    parts = [
        _row_hashes(documents[PAGE_COLUMNS]),
        _per_document(position, marks, ["mention_id", "label", "start", "end"], people)[codes],
        _per_document(position, links, ["mention_id", "entity_id", "text"])[codes],
        _summed(position, pairs["doc_id"], np.append(shown, np.uint64(0))[where])[codes],  # 0: no such entity
    ]
    combined = _row_hashes(pd.DataFrame(dict(enumerate(parts))))
    return [f"{value:016x}" for value in combined.tolist()]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    # categorize=False: most values (texts, mention IDs) occur once, factorising them costs more
    return pd.util.hash_pandas_object(frame, index=False, categorize=False).to_numpy()


def _per_document(position: pd.Index, rows: pd.DataFrame, columns: list[str], *extra: Any) -> np.ndarray:
    """Per document, a hash of its rows in their order (each row hashed with its place)."""
    ordered = rows[columns].assign(place=rows.groupby("doc_id", sort=False).cumcount())
    for number, values in enumerate(extra):
        ordered[f"extra{number}"] = values
    return _summed(position, rows["doc_id"], _row_hashes(ordered))


def _summed(position: pd.Index, doc_ids: pd.Series, hashes: np.ndarray) -> np.ndarray:
    """The sum (mod 2**64) of each document's row hashes; 0 for a document without rows."""
    total = np.zeros(len(position), dtype=np.uint64)
    where = position.get_indexer(doc_ids)
    known = where >= 0
    np.add.at(total, where[known], hashes.astype(np.uint64)[known])
    return total


def _read_index(path: Path, code: str) -> dict[str, str]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return index.get("pages", {}) if isinstance(index, dict) and index.get("code") == code else {}


def run_show(processed_dir: Path, doc_id: str, output: Path | None = None) -> tuple[Path, int]:
    """Write the page of `doc_id` (default: processed/show/<doc_id>.html); returns its path
    and the number of marked mentions."""
    import difflib

    documents = read_parquet(processed_dir / DOCUMENTS_FILE, "ingest")
    match = documents[documents["doc_id"] == doc_id]
    if match.empty:
        close = difflib.get_close_matches(doc_id, list(documents["doc_id"]), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownDocument(f"no document {doc_id!r} in {processed_dir / DOCUMENTS_FILE}{hint}")
    mentions = read_parquet(processed_dir / MENTIONS_FILE, "extract")
    links = read_parquet(processed_dir / MENTION_ENTITIES_FILE, "resolve")
    entities = read_parquet(processed_dir / ENTITIES_FILE, "resolve")
    from pipeline.review.report import DISCREPANCIES_HTML

    target = output or processed_dir / SHOW_DIR / page_name(doc_id)
    report_page = processed_dir / DISCREPANCIES_HTML
    page, n_marks = render_document(
        match.iloc[0],
        mentions[mentions["doc_id"] == doc_id],
        links[links["doc_id"] == doc_id],
        entities,
        report_href=report_link(target.resolve().parent, report_page.resolve()) if report_page.is_file() else "",
    )
    write_text_atomic(target, page)
    return target, n_marks
