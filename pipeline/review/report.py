"""Stage 5, report: discrepancies a press office must check, as CSV and HTML.

One row per entity whose surface forms differ in a way that matters:
  encoding         a form is code-page or mojibake damage (Aslý for Aslı)
  typo             one or two letters differ (Lüngen / Längen)
  spelling         larger differences between forms of one entity
  transliteration  ü/ue, ß/ss written differently in names
  diacritic        a form lacks the diacritics another has (Asli / Aslı)
Benign differences (titles, genitive, adjective forms, abbreviations,
surname-only references, short forms, ü/ue in e-mail addresses) are not
reported; they stay visible in the variants column of the entity tables.
Conflicting facts about one person across documents (roles or affiliations
that share nothing) and different dates given for the same named event are
reported as `conflicting role`, `conflicting affiliation`, `conflicting date`.

Entities with a reviewer decision are listed as `decided`, not `open`.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz.distance import Levenshtein

from pipeline.export import write_csv
from pipeline.extract import MENTIONS_FILE
from pipeline.ingest import DOCUMENTS_FILE, GERMAN_MONTHS
from pipeline.io import read_parquet, write_text_atomic
from pipeline.normalize import fold_din, fold_plain, is_ascii_folding_of
from pipeline.resolve import ENTITIES_FILE, FACTS_FILE, MENTION_ENTITIES_FILE
from pipeline.resolve.pairs import STOP_ROLE_WORDS

DISCREPANCIES_CSV = "discrepancies.csv"
DISCREPANCIES_HTML = "discrepancies.html"
SEVERITY = ("encoding", "typo", "spelling", "transliteration", "diacritic")
COLUMNS = [
    "discrepancy_id",
    "status",
    "entity_id",
    "type",
    "kind",
    "variants",
    "where_seen",
    "suggested",
    "why",
    "confidence",
    "decision",
    "canonical_name",
]
STOP_WORDS = STOP_ROLE_WORDS | {"mit"}
WORD = re.compile(r"\w+")
DATE_IN_TEXT = re.compile(
    rf"\b(\d{{1,2}})\.\s*(?:({'|'.join(GERMAN_MONTHS)})|(\d{{1,2}})\.)\s*(\d{{4}})\b", re.IGNORECASE
)


def pair_kind(a: str, b: str) -> str:
    """Kind of difference between two normalised forms of one entity."""
    if is_ascii_folding_of(a, b) or is_ascii_folding_of(b, a) or fold_plain(a) == fold_plain(b):
        return "diacritic"
    if fold_din(a) == fold_din(b):
        return "transliteration"
    distance = Levenshtein.distance(fold_plain(a), fold_plain(b))
    return "typo" if distance <= 2 else "spelling"


@dataclass(frozen=True)
class Surface:
    """What the report needs of one mention of an entity."""

    text: str
    normalised: str
    key: str
    normalisation: str
    repaired: str
    doc_id: str


def _distinct_forms(type_: str, surfaces: list[Surface]) -> list[str]:
    """Normalised forms that name the entity in full: no surname-only references,
    no short forms that another form extends. Places and organisations whose
    matching keys agree (abbreviation expanded, ü/ue folded) count as one form."""
    full = [s for s in surfaces if s.normalisation != "surname only"]
    if type_ in {"LOC", "ORG"}:
        by_key: dict[str, str] = {}
        for surface in sorted(full, key=lambda s: s.normalised):
            by_key.setdefault(surface.key, surface.normalised)
        forms = sorted(set(by_key.values()))
    else:
        forms = sorted({s.normalised for s in full})
    return [f for f in forms if not any(o != f and (o.startswith(f + " ") or o.endswith(" " + f)) for o in forms)]


def classify(entity: Any, surfaces: list[Surface]) -> dict[str, Any] | None:
    """The discrepancy of one entity (a row of entities.parquet), or None when all
    differences are benign."""
    kinds: list[str] = []
    notes: list[str] = []
    damaged = {s.text: s.repaired for s in surfaces if s.repaired in {"codepage", "mojibake"}}
    if damaged:
        kinds.append("encoding")
        for text, repair in sorted(damaged.items()):
            if repair == "codepage":
                notes.append(
                    f"{text!r} shows Turkish letters (ı ş ğ İ Ş Ğ) as Windows-1252 (ý þ ð Ý Þ Ð): code-page damage"
                )
            else:
                notes.append(f"{text!r} is UTF-8 read as Latin-1 (mojibake)")
    forms = _distinct_forms(entity.type, surfaces)
    for i, a in enumerate(forms):
        for b in forms[i + 1 :]:
            kind = pair_kind(a, b)
            kinds.append(kind)
            if kind == "diacritic":
                plain, accented = (a, b) if a.isascii() else (b, a)
                notes.append(f"{plain!r} is {accented!r} without its diacritics")
            elif kind == "transliteration":
                notes.append(f"{a!r} and {b!r} differ in ü/ue, ß/ss")
            else:
                distance = Levenshtein.distance(fold_plain(a), fold_plain(b))
                notes.append(f"{a!r} and {b!r} differ by {distance} letter(s)")
    if not kinds:
        return None
    kind = min(kinds, key=SEVERITY.index)
    status = entity.canonical_status
    counts = Counter(s.normalised for s in surfaces)
    if status == "undecided":
        why = (
            "; ".join(notes)
            + f"; the texts give no majority ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}), a reviewer decides"
        )
        suggested, confidence = "", 0.5
    else:
        why = "; ".join(notes) + f"; suggested because: {entity.canonical_reason}"
        suggested = entity.canonical_name
        top = max(counts.values())
        confidence = {"repaired": 0.9, "decided": 1.0}.get(
            status, round(min(0.95, 0.5 + 0.5 * top / sum(counts.values())), 2)
        )
    return {"kind": kind, "suggested": suggested, "why": why, "confidence": confidence}


def _content_words(values: list[str]) -> set[str]:
    return {w.lower() for v in values for w in WORD.findall(v) if w.lower() not in STOP_WORDS and len(w) > 2}


def first_disjoint_pair(words: dict[str, set[str]]) -> tuple[str, str] | None:
    """The first pair of documents (in key order) whose word sets share nothing.
    An inverted index keeps this near-linear for a person named in thousands of
    documents, where comparing every pair would not finish."""
    docs = list(words)
    postings: dict[str, set[str]] = defaultdict(set)
    for doc, doc_words in words.items():
        for word in doc_words:
            postings[word].add(doc)
    for index, a in enumerate(docs):
        sharing: set[str] = set()
        for word in words[a]:
            sharing |= postings[word]
            if len(sharing) == len(docs):
                break
        if len(sharing) < len(docs):
            b = next((b for b in docs[index + 1 :] if b not in sharing), None)
            if b is not None:
                return a, b
    return None


def fact_conflicts(facts: pd.DataFrame, entities: pd.DataFrame) -> list[dict[str, Any]]:
    """Roles or affiliations of one person in two documents that share no word."""
    conflicts = []
    names = dict(zip(entities["entity_id"], entities["canonical_name"], strict=True))
    for (entity_id, fact), group in facts.groupby(["entity_id", "fact"], sort=True):
        by_doc = {doc: list(g["value"]) for doc, g in group.groupby("doc_id", sort=True)}
        clash = first_disjoint_pair({doc: _content_words(values) for doc, values in by_doc.items()})
        if clash is not None:
            a, b = clash
            conflicts.append(
                {
                    "entity_id": entity_id,
                    "type": "PER",
                    "kind": f"conflicting {fact}",
                    "variants": json.dumps(sorted({v for vs in by_doc.values() for v in vs}), ensure_ascii=False),
                    "where_seen": json.dumps({d: " | ".join(v) for d, v in by_doc.items()}, ensure_ascii=False),
                    "suggested": "",
                    "why": f"{names.get(entity_id, entity_id)}: {a} says {' | '.join(by_doc[a])!r}, {b} says {' | '.join(by_doc[b])!r}",
                    "confidence": 0.5,
                    "canonical_name": names.get(entity_id, ""),
                }
            )
    return conflicts


def _dates(sentence: str) -> set[str]:
    found = set()
    for day, month_name, month_number, year in DATE_IN_TEXT.findall(sentence):
        month = GERMAN_MONTHS[month_name.lower()] if month_name else int(month_number)
        try:
            found.add(date(int(year), month, int(day)).isoformat())
        except ValueError:
            continue
    return found


def date_conflicts(mentions: pd.DataFrame) -> list[dict[str, Any]]:
    """The same named event (MISC) given different dates in different documents."""
    events = mentions[mentions["label"] == "MISC"]
    by_event: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    names: dict[str, str] = {}
    for row in events.itertuples(index=False):
        key = fold_din(row.text)
        names.setdefault(key, row.text)
        by_event[key][row.doc_id] |= _dates(row.sentence)
    conflicts = []
    for key, per_doc in sorted(by_event.items()):
        dated = {doc: dates for doc, dates in per_doc.items() if dates}
        if len({d for ds in dated.values() for d in ds}) > 1 and len(dated) > 1:
            conflicts.append(
                {
                    "entity_id": "",
                    "type": "MISC",
                    "kind": "conflicting date",
                    "variants": json.dumps(sorted({d for ds in dated.values() for d in ds})),
                    "where_seen": json.dumps({doc: sorted(ds) for doc, ds in sorted(dated.items())}),
                    "suggested": "",
                    "why": f"{names[key]!r} is dated differently: "
                    + "; ".join(f"{doc}: {', '.join(sorted(ds))}" for doc, ds in sorted(dated.items())),
                    "confidence": 0.5,
                    "canonical_name": names[key],
                }
            )
    return conflicts


def find_discrepancies(
    entities: pd.DataFrame, links: pd.DataFrame, facts: pd.DataFrame, mentions: pd.DataFrame
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    grouped: dict[str, list[Surface]] = defaultdict(list)
    columns = ["entity_id", "text", "normalised", "key", "normalisation", "repaired", "doc_id"]
    for entity_id, *values in links[columns].itertuples(index=False, name=None):
        grouped[entity_id].append(Surface(*values))
    for entity in entities.itertuples(index=False):
        surfaces = grouped.get(entity.entity_id)
        if not surfaces:
            continue
        found = classify(entity, surfaces)
        if found is None:
            continue
        where_sets: dict[str, set[str]] = defaultdict(set)
        for surface in surfaces:
            where_sets[surface.text].add(surface.doc_id)
        where = {text: sorted(docs) for text, docs in sorted(where_sets.items())}
        rows.append(
            {
                "entity_id": entity.entity_id,
                "type": entity.type,
                **found,
                "variants": entity.variants,
                "where_seen": json.dumps(where, ensure_ascii=False),
                "canonical_name": entity.canonical_name,
            }
        )
    rows += fact_conflicts(facts, entities)
    rows += date_conflicts(mentions)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in {"discrepancy_id", "status", "decision"}])
    decided = {
        e: json.loads(d) for e, d in zip(entities["entity_id"], entities["decisions"], strict=True) if json.loads(d)
    }
    frame["decision"] = frame["entity_id"].map(lambda e: ", ".join(decided.get(e, [])))
    frame["status"] = ["decided" if d else "open" for d in frame["decision"]]
    frame = frame.sort_values(["status", "type", "kind", "canonical_name"], kind="stable", ignore_index=True)
    frame.insert(0, "discrepancy_id", [f"D{i:04d}" for i in range(1, len(frame) + 1)])
    return frame.reindex(columns=COLUMNS)


# --- HTML ----------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#222;background:#fafafa}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin:0}
.card{background:#fff;border:1px solid #ddd;border-left:6px solid #c33;border-radius:6px;padding:1rem 1.2rem;margin:1rem 0}
.card.decided{border-left-color:#393;opacity:.8}
.meta{color:#666;font-size:.9rem}.kind{font-weight:600;text-transform:uppercase;letter-spacing:.03em}
mark{background:#ffe27a;padding:0 .15em;border-radius:2px}
blockquote{margin:.4rem 0 .4rem 1rem;color:#333}
ul{padding-left:1.2rem}a{color:#15c}
"""


def _highlight(sentence: str, text: str) -> str:
    start = sentence.find(text)
    if start < 0:
        return html.escape(sentence)
    end = start + len(text)
    return html.escape(sentence[:start]) + "<mark>" + html.escape(text) + "</mark>" + html.escape(sentence[end:])


def render_html(
    discrepancies: pd.DataFrame, links: pd.DataFrame, documents: pd.DataFrame, doc_links: dict[str, str]
) -> str:
    """A self-contained page: no scripts, no network, every name escaped."""
    titles = dict(zip(documents["doc_id"], documents["title"], strict=True))
    wanted = set(discrepancies["entity_id"])
    first_by_entity: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for entity_id, text, doc_id, sentence in links[["entity_id", "text", "doc_id", "sentence"]].itertuples(
        index=False, name=None
    ):
        if entity_id in wanted and text not in first_by_entity[entity_id]:
            first_by_entity[entity_id][text] = {"doc_id": doc_id, "sentence": sentence}
    open_count = int((discrepancies["status"] == "open").sum())
    parts = [
        "<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Presseabgleich: Abweichungen zur Prüfung</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Presseabgleich: discrepancies to review</h1>",
        f"<p class='meta'>{open_count} open, {len(discrepancies) - open_count} decided. "
        "Record decisions in the decisions file or with <code>presseabgleich review</code>.</p>",
    ]
    for row in discrepancies.itertuples(index=False):
        parts.append(f"<section class='card {html.escape(row.status)}' id='{html.escape(row.discrepancy_id)}'>")
        # an undecided name has no canonical form yet: show the competing forms
        title = row.canonical_name if row.suggested or not row.variants else " / ".join(json.loads(row.variants))
        parts.append(
            f"<h2>{html.escape(title or '')} <span class='meta'>({html.escape(row.type)}, "
            f"{html.escape(row.entity_id or '')})</span></h2>"
        )
        parts.append(
            f"<p><span class='kind'>{html.escape(row.kind)}</span> · {html.escape(row.status)}"
            + (f" (decision {html.escape(row.decision)})" if row.decision else "")
            + f" · confidence {row.confidence:.2f}</p>"
        )
        suggestion = row.suggested or "— undecided: the texts cannot say which form is right"
        parts.append(f"<p>Suggested: <strong>{html.escape(suggestion)}</strong></p>")
        parts.append(f"<p class='meta'>{html.escape(row.why)}</p><ul>")
        variants = first_by_entity.get(row.entity_id, {}) if row.entity_id else {}
        for variant, first in sorted(variants.items()):
            doc_id = first["doc_id"]
            href = doc_links.get(doc_id, "")
            source = (
                f"<a href='{html.escape(href, quote=True)}'>{html.escape(titles.get(doc_id) or doc_id)}</a>"
                if href
                else html.escape(doc_id)
            )
            parts.append(
                f"<li><mark>{html.escape(variant)}</mark> in {source}"
                f"<blockquote>{_highlight(first['sentence'], variant)}</blockquote></li>"
            )
        if not variants:
            for doc_id, value in json.loads(row.where_seen).items():
                href = doc_links.get(doc_id, "")
                link = (
                    f"<a href='{html.escape(href, quote=True)}'>{html.escape(doc_id)}</a>"
                    if href
                    else html.escape(doc_id)
                )
                parts.append(f"<li>{link}: {html.escape(str(value))}</li>")
        parts.append("</ul></section>")
    if discrepancies.empty:
        parts.append("<p>No discrepancies: every entity is written the same way in all documents.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def run_report(processed_dir: Path, config: dict[str, Any]) -> pd.DataFrame:
    """Stage entry point: entities + links → discrepancies.csv and discrepancies.html."""
    entities = read_parquet(processed_dir / ENTITIES_FILE, "resolve")
    links = read_parquet(processed_dir / MENTION_ENTITIES_FILE, "resolve")
    facts = read_parquet(processed_dir / FACTS_FILE, "resolve")
    mentions = read_parquet(processed_dir / MENTIONS_FILE, "extract")
    documents = read_parquet(processed_dir / DOCUMENTS_FILE, "ingest")
    discrepancies = find_discrepancies(entities, links, facts, mentions)
    export = discrepancies.copy()
    for column in ("variants",):
        export[column] = [" | ".join(json.loads(v)) if v else "" for v in export[column]]
    write_csv(export, processed_dir / DISCREPANCIES_CSV, config["export"]["csv_dialect"])
    raw_dir = Path(config["paths"]["raw_dir"])
    doc_links = {
        row.doc_id: Path(os.path.relpath(raw_dir / row.source_path, processed_dir)).as_posix()
        for row in documents.itertuples(index=False)
    }
    write_text_atomic(processed_dir / DISCREPANCIES_HTML, render_html(discrepancies, links, documents, doc_links))
    return discrepancies
