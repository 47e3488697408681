"""One document as an HTML page with every mention highlighted, like spaCy's displaCy.

`presseabgleich show DOC` writes the page: the document's text with each mention
marked in the colour of its type (displaCy's palette) and labelled, and linked to
its row in the page's table of people, places and organisations (ID, canonical
name, spellings, number of documents: the same ID as in people.csv & co.).
Contacts (e-mail, phone, fax, web and postal addresses) are marked too and link
to the person they belong to. The page is self-contained (no scripts, no
network); Jinja2 escapes every text from the documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from pipeline.extract import MENTIONS_FILE
from pipeline.ingest import DOCUMENTS_FILE
from pipeline.io import read_parquet, write_text_atomic
from pipeline.resolve import ENTITIES_FILE, MENTION_ENTITIES_FILE

SHOW_DIR = "show"
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
<h1>{{ title }}</h1>
<p class="meta">Dokument {{ doc_id }}{% if published %} · {{ published }}{% endif %}{% if issuer %} · {{ issuer }}{% endif %} · {{ n_marks }} Erwähnungen</p>
<div class="text">
{% for paragraph in paragraphs %}<p>{% for piece in paragraph %}{% if piece.label %}<mark class="entity {{ piece.label }}" id="{{ piece.mark_id }}" data-label="{{ piece.label }}"{% if piece.entity_id %} data-entity="{{ piece.entity_id }}"{% endif %}>{% if piece.entity_id %}<a href="#{{ piece.row_id }}" title="{{ piece.entity_id }}">{{ piece.text }}</a>{% else %}{{ piece.text }}{% endif %}<span class="label">{{ piece.label }}</span></mark>{% else %}{{ piece.text }}{% endif %}{% endfor %}</p>
{% endfor %}</div>
{% for type_, rows in tables %}
<h2><span class="swatch" style="background:{{ colours[type_] }}"></span> {{ type_names[type_] }}</h2>
<table class="entities {{ type_ }}">
<thead><tr><th>ID</th><th>Name</th><th>Status des Namens</th><th>Schreibweisen</th><th>Erwähnungen hier</th><th>Anzahl Dokumente</th></tr></thead>
<tbody>
{% for row in rows %}<tr id="{{ row.row_id }}"><td>{{ row.entity_id }}</td><td>{{ row.name }}</td><td>{{ row.status }}</td><td>{{ row.variants }}</td><td>{{ row.here }}</td><td>{{ row.n_documents }}</td></tr>
{% endfor %}</tbody>
</table>
{% endfor %}
</body>
</html>
"""


@dataclass
class Piece:
    """A run of the document's text: plain, or one marked mention."""

    text: str
    label: str = ""
    mark_id: str = ""
    entity_id: str = ""
    row_id: str = ""


def row_anchor(entity_id: str) -> str:
    return f"entity-{entity_id}"


def page_name(doc_id: str) -> str:
    """A file name for the document's page (a doc_id may contain folders)."""
    return re.sub(r"[^\w.-]+", "_", doc_id).strip("._") + ".html"


def _non_overlapping(mentions: pd.DataFrame) -> pd.DataFrame:
    """Mentions that can be marked in a flat text: where spans overlap (a place
    inside an organisation's name), the longer, outer one is marked."""
    ordered = mentions.assign(length=mentions["end"] - mentions["start"]).sort_values(
        ["start", "length"], ascending=[True, False], kind="stable"
    )
    kept, reached = [], -1
    for row in ordered.itertuples(index=False):
        if row.start >= reached:
            kept.append(row)
            reached = row.end
    return pd.DataFrame(kept, columns=ordered.columns)


def paragraphs_of(text: str, marks: pd.DataFrame, entity_of: dict[str, str]) -> list[list[Piece]]:
    """The text cut into paragraphs (at blank lines) of plain and marked pieces."""
    pieces: list[Piece] = []
    position = 0
    for row in marks.itertuples(index=False):
        if row.start > position:
            pieces.append(Piece(text[position : row.start]))
        entity_id = entity_of.get(row.mention_id) or entity_of.get(getattr(row, "person_mention_id", "") or "", "")
        pieces.append(
            Piece(
                text[row.start : row.end],
                label=row.label,
                mark_id=f"mention-{row.mention_id}",
                entity_id=entity_id,
                row_id=row_anchor(entity_id) if entity_id else "",
            )
        )
        position = row.end
    pieces.append(Piece(text[position:]))
    paragraphs: list[list[Piece]] = [[]]
    for piece in pieces:
        if piece.label:
            paragraphs[-1].append(piece)
            continue
        for index, part in enumerate(re.split(r"\n\s*\n", piece.text)):
            if index:
                paragraphs.append([])
            if part:
                paragraphs[-1].append(Piece(part))
    return [p for p in paragraphs if p]


def render_document(
    document: Any, mentions: pd.DataFrame, links: pd.DataFrame, entities: pd.DataFrame
) -> tuple[str, int]:
    """The page of one document (a row of documents.parquet) and how many mentions it marks.
    `mentions`, `links`: that document's rows of mentions.parquet and mention_entities.parquet."""
    entity_of = dict(zip(links["mention_id"], links["entity_id"], strict=True))
    marks = _non_overlapping(mentions[mentions["end"] > mentions["start"]])
    here = links.groupby("entity_id")["text"].agg(lambda texts: " | ".join(sorted(set(texts))))
    shown = entities[entities["entity_id"].isin(set(links["entity_id"]))]
    tables = []
    for type_ in TYPE_NAMES:
        rows = [
            {
                "row_id": row_anchor(row.entity_id),
                "entity_id": row.entity_id,
                "name": row.canonical_name,
                "status": row.canonical_status,
                "variants": " | ".join(json.loads(row.variants)) if row.variants else "",
                "here": here.get(row.entity_id, ""),
                "n_documents": row.n_documents,
            }
            for row in shown[shown["type"] == type_].sort_values("canonical_name").itertuples(index=False)
        ]
        if rows:
            tables.append((type_, rows))
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = environment.from_string(TEMPLATE).render(
        title=document.title or document.doc_id,
        doc_id=document.doc_id,
        published=document.published,
        issuer=document.issuer,
        n_marks=len(marks),
        paragraphs=paragraphs_of(document.text, marks, entity_of),
        tables=tables,
        colours=COLOURS,
        type_names=TYPE_NAMES,
    )
    return page, len(marks)


class UnknownDocument(LookupError):
    """The doc_id is not among the last run's documents."""


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
    page, n_marks = render_document(
        match.iloc[0], mentions[mentions["doc_id"] == doc_id], links[links["doc_id"] == doc_id], entities
    )
    target = output or processed_dir / SHOW_DIR / page_name(doc_id)
    write_text_atomic(target, page)
    return target, n_marks
