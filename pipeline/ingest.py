"""Stage 1, ingest: press releases (.txt, .md, .html) → plain text with metadata.

Output `documents.parquet` (one row per document) and `ingest_errors.csv` (one
row per file that was skipped, with the reason). Bad files never stop the batch.

Every document keeps an offset map back to its source: a list of segments
(text_start, source_start, length, exact) in characters of the decoded source
file, so that a mention found in the plain text can point into the original.

Incremental: a file whose size and modification time are unchanged since the
last run (and read by the same code and [ingest] settings) keeps its row
without being read again, so a growing archive costs one stat() per old file.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, ProcessingInstruction, Tag
from charset_normalizer import from_bytes
from markdown_it import MarkdownIt

from pipeline.io import code_key, write_json_atomic, write_parquet_atomic, write_text_atomic

DOCUMENTS_FILE = "documents.parquet"
ERRORS_FILE = "ingest_errors.csv"
INGEST_STATE_FILE = "ingest_state.json"

BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "main",
    "nav",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "blockquote",
    "pre",
    "hr",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "address",
    "title",
}
SKIP_TAGS = {"script", "style", "noscript", "template", "head", "svg"}
GENERIC_HEADINGS = {
    "presseinformation",
    "pressemitteilung",
    "pressemeldung",
    "medieninformation",
    "pressenotiz",
    "presse",
    "kontakt",
    "hinweis zum foto",
}
GERMAN_MONTHS = {
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "april": 4,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "august": 8,
    "september": 9,
    "oktober": 10,
    "november": 11,
    "dezember": 12,
}
_MONTH_PATTERN = "|".join(GERMAN_MONTHS)
# A date line: a paragraph that starts with a date ("30. Januar 2025 – ...", "30.01.2025:").
DATELINE = re.compile(
    rf"^\W*(?:(?:Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag),?\s+)?"
    rf"(?:(?P<d1>\d{{1,2}})\.\s*(?P<month>{_MONTH_PATTERN})\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}})\.(?P<m2>\d{{1,2}})\.(?P<y2>\d{{4}})"
    rf"|(?P<y3>\d{{4}})-(?P<m3>\d{{2}})-(?P<d3>\d{{2}}))\b",
    re.IGNORECASE,
)
FILENAME_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
CITY_DOMAIN = re.compile(r"\b[\w.+-]+@(?:stadt|gemeinde|kreis|landkreis)-([a-zäöüß-]+)\.de\b", re.IGNORECASE)
ISSUER_PHRASE = re.compile(
    r"\b(?:Pressestelle|Presseamt|Presse- und Öffentlichkeitsarbeit)\s+(?:der|des)\s+"
    r"((?:Stadt|Gemeinde|Kreises|Landkreises|Bezirksregierung)\s+[A-ZÄÖÜ][\w-]+(?:\s+an\s+der\s+[A-ZÄÖÜ][\w-]+)?)"
)


@dataclass
class Segment:
    """`length` characters of plain text starting at `text_start` come from `source_start`."""

    text_start: int
    source_start: int
    length: int
    exact: bool


@dataclass
class Document:
    doc_id: str
    source_path: str
    source_format: str
    encoding: str
    content_hash: str
    title: str
    published: str
    date_source: str
    issuer: str
    text: str
    n_chars: int
    offset_map: list[Segment] = field(default_factory=list)
    source_size: int = 0
    source_mtime_ns: int = 0


@dataclass
class IngestProblem:
    file: str
    problem: str
    detail: str


class SkipFile(Exception):
    """The file cannot be used; the message says why."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


# --- decoding ---------------------------------------------------------------


WESTERN_CODEPAGES = {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}
# Bytes where Windows-1254 (Turkish) and Windows-1252 differ: ğ İ Ş ı ş Ğ vs ð Ý Þ ý þ Ð.
TURKISH_BYTES = re.compile(rb"[\xd0\xdd\xde\xf0\xfd\xfe]")


def decode_bytes(data: bytes, candidates: Iterable[str] = ()) -> tuple[str, str]:
    """Bytes → (text, encoding name).

    UTF-8 (with or without BOM) and UTF-16/32 with BOM are taken as they are.
    Anything else goes to charset-normalizer, limited to `candidates` (the
    legacy encodings German press offices use). Where it picks a Western code
    page but the bytes include the six where Windows-1254 differs, Windows-1254
    wins: read as Western they are Icelandic letters (ý, þ, ð) that German text
    does not use, read as Turkish they are ı, ş, ğ of Turkish names.
    """
    for bom, name in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise SkipFile("undecodable", f"starts with a {name} byte-order mark but is not {name}: {exc}") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=list(candidates) or None).best()
    if best is None:
        raise SkipFile("undecodable", "no text encoding fits the bytes")
    encoding = best.encoding
    if encoding in WESTERN_CODEPAGES and TURKISH_BYTES.search(data):
        try:
            return data.decode("cp1254"), "cp1254"
        except UnicodeDecodeError:
            pass
    return str(best), encoding


def check_is_text(text: str, min_printable_ratio: float) -> None:
    if "\x00" in text[:65536]:
        raise SkipFile("binary", "contains NUL bytes; not a text file")
    sample = text[:65536]
    printable = sum(1 for ch in sample if ch.isprintable() or ch in "\n\r\t")
    if sample and printable / len(sample) < min_printable_ratio:
        raise SkipFile("binary", f"only {printable / len(sample):.0%} printable characters; not a text file")


# --- structure → plain text with offsets ------------------------------------


class TextBuilder:
    """Collects plain text pieces and records where each came from in the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cursor = 0
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[Segment] = []

    def add_separator(self, separator: str) -> None:
        if not self.parts:
            return
        current = "".join(self.parts[-2:])
        if separator == "\n\n" and current.endswith("\n\n"):
            return
        if separator == "\n\n" and current.endswith("\n"):
            separator = "\n"
        elif separator == "\n" and current.endswith("\n"):
            return
        elif separator == " " and current[-1:].isspace():
            return
        self._append(separator, None)

    def add_text(self, piece: str, located: int | None = None) -> None:
        if not piece:
            return
        if located is None:
            found = self.source.find(piece, self.cursor)
            located = found if found >= 0 else None
        self._append(piece, located)
        if located is not None:
            self.cursor = located + len(piece)

    def _append(self, piece: str, source_start: int | None) -> None:
        normalised = unicodedata.normalize("NFC", piece)
        exact = source_start is not None and len(normalised) == len(piece)
        self.segments.append(
            Segment(self.length, self.cursor if source_start is None else source_start, len(normalised), exact)
        )
        self.parts.append(normalised)
        self.length += len(normalised)

    def result(self) -> tuple[str, list[Segment]]:
        return "".join(self.parts), self.segments


def _walk_html(node: Tag, builder: TextBuilder, collect: dict[str, list[str]]) -> None:
    for child in node.children:
        if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            text = re.sub(r"\s+", " ", str(child))
            if text.strip():
                builder.add_text(text.lstrip() if not builder.parts or builder.parts[-1].endswith("\n") else text)
            continue
        if not isinstance(child, Tag) or child.name in SKIP_TAGS:
            if isinstance(child, Tag) and child.name == "head":
                title = child.find("title")
                if title and title.get_text(strip=True):
                    collect["title"].append(title.get_text(" ", strip=True))
            continue
        if child.name == "br":
            builder.add_separator("\n")
            continue
        is_block = child.name in BLOCK_TAGS
        if is_block:
            builder.add_separator("\n\n")
        if child.name in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            collect["headings"].append(child.get_text(" ", strip=True))
        if child.name in {"td", "th"}:
            builder.add_separator(" ")
        _walk_html(child, builder, collect)
        if is_block:
            builder.add_separator("\n\n")


def html_to_text(html: str, source: str | None = None) -> tuple[str, list[Segment], dict[str, list[str]]]:
    """Plain text of an HTML document; pieces are located in `source` (default: the HTML)."""
    soup = BeautifulSoup(html, "html.parser")
    builder = TextBuilder(source if source is not None else html)
    collect: dict[str, list[str]] = {"title": [], "headings": []}
    _walk_html(soup, builder, collect)
    text, segments = builder.result()
    return text, segments, collect


def markdown_to_text(markdown: str) -> tuple[str, list[Segment], dict[str, list[str]]]:
    html = MarkdownIt("commonmark").render(markdown)
    return html_to_text(html, source=markdown)


def plain_to_text(raw: str) -> tuple[str, list[Segment], dict[str, list[str]]]:
    builder = TextBuilder(raw)
    for match in re.finditer(r"[^\r\n]+|\r?\n", raw):
        piece = match.group()
        if piece.endswith("\n"):
            builder._append("\n", match.start())
        else:
            builder.add_text(piece, located=match.start())
    text, segments = builder.result()
    return text, segments, {"title": [], "headings": []}


def source_span(segments: list[Segment], start: int, end: int) -> tuple[int, int]:
    """Source offsets of the plain-text span [start, end). The end is mapped through
    the span's last character: the position after it may already lie in markup the
    text skipped ("…de](mailto:…)")."""
    if end <= start:
        position = source_offset(segments, start)
        return position, position
    return source_offset(segments, start), source_offset(segments, end - 1) + 1


def source_offset(segments: list[Segment], text_offset: int) -> int:
    """Character offset in the decoded source for a plain-text offset."""
    if not segments:
        return text_offset
    index = max(bisect.bisect_right(segments, text_offset, key=lambda s: s.text_start) - 1, 0)
    segment = segments[index]
    within = text_offset - segment.text_start
    if segment.exact:
        return segment.source_start + min(within, segment.length)
    return segment.source_start


# --- metadata ---------------------------------------------------------------


def find_title(collect: dict[str, list[str]]) -> str:
    for candidate in collect["title"] + collect["headings"]:
        cleaned = candidate.strip(" *_#")
        if cleaned and cleaned.lower().strip(" :") not in GENERIC_HEADINGS:
            return cleaned
    return ""


def find_date(text: str, doc_id: str) -> tuple[str, str]:
    """(ISO date, where it came from): a date line near the start, else the file name."""
    for paragraph in text.split("\n")[:12]:
        match = DATELINE.match(paragraph.strip())
        if match and not paragraph.strip().lower().startswith("am "):
            groups = match.groupdict()
            try:
                if groups["month"]:
                    found = date(int(groups["y1"]), GERMAN_MONTHS[groups["month"].lower()], int(groups["d1"]))
                elif groups["m2"]:
                    found = date(int(groups["y2"]), int(groups["m2"]), int(groups["d2"]))
                else:
                    found = date(int(groups["y3"]), int(groups["m3"]), int(groups["d3"]))
            except ValueError:
                continue
            return found.isoformat(), "dateline"
    match = FILENAME_DATE.search(doc_id)
    if match:
        try:
            return date(*map(int, match.groups())).isoformat(), "filename"
        except ValueError:
            pass
    return "", ""


def find_issuer(text: str) -> str:
    phrase = ISSUER_PHRASE.search(text)
    if phrase:
        return phrase.group(1)
    domain = CITY_DOMAIN.search(text)
    if domain:
        prefix = domain.group(0).split("@", 1)[1].split("-", 1)[0].lower()
        kind = {"stadt": "Stadt", "gemeinde": "Gemeinde", "kreis": "Kreis", "landkreis": "Landkreis"}[prefix]
        name = "-".join(part.capitalize() for part in domain.group(1).split("-"))
        return f"{kind} {name}"
    return ""


# --- files ------------------------------------------------------------------


def iter_input_files(raw_dir: Path, suffixes: Iterable[str]) -> Iterator[Path | IngestProblem]:
    """Files under raw_dir in a stable order; symlinks leading outside it are refused."""
    wanted = {s.lower() for s in suffixes}
    root = raw_dir.resolve()
    for path in sorted(raw_dir.rglob("*")):
        if path.suffix.lower() not in wanted:
            continue
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                yield IngestProblem(str(path), "outside input folder", f"symbolic link to {target}; not followed")
                continue
        if path.is_file():
            yield path


def read_document(path: Path, raw_dir: Path, config: dict[str, Any]) -> Document:
    """One file → Document; raises SkipFile with the reason when the file is unusable."""
    limit = int(config["max_file_mb"] * 1024 * 1024)
    stat = path.stat()
    size = stat.st_size
    if size == 0:
        raise SkipFile("empty", "file has 0 bytes")
    if size > limit:
        raise SkipFile("too large", f"{size / 1024 / 1024:.1f} MB exceeds the {config['max_file_mb']} MB limit")
    data = path.read_bytes()
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise SkipFile("binary", "contains NUL bytes; not a text file")
    raw, encoding = decode_bytes(data, config["candidate_encodings"])
    check_is_text(raw, config["min_printable_ratio"])
    if not raw.strip():
        raise SkipFile("empty", "contains only whitespace")
    suffix = path.suffix.lower()
    try:
        if suffix in {".md", ".markdown"}:
            text, segments, collect = markdown_to_text(raw)
            source_format = "markdown"
        elif suffix in {".html", ".htm"}:
            text, segments, collect = html_to_text(raw)
            source_format = "html"
        else:
            text, segments, collect = plain_to_text(raw)
            source_format = "text"
    except (RecursionError, ValueError, AssertionError) as exc:
        raise SkipFile("unparseable", f"{type(exc).__name__}: {exc}") from exc
    if not text.strip():
        raise SkipFile("empty", "no text left after removing markup")
    doc_id = path.stem
    published, date_source = find_date(text, doc_id)
    return Document(
        doc_id=doc_id,
        source_path=str(path.relative_to(raw_dir)) if path.is_relative_to(raw_dir) else str(path),
        source_format=source_format,
        encoding=encoding,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        title=find_title(collect),
        published=published,
        date_source=date_source,
        issuer=find_issuer(text),
        text=text,
        n_chars=len(text),
        offset_map=segments,
        source_size=size,
        source_mtime_ns=stat.st_mtime_ns,
    )


def reader_key(config: dict[str, Any]) -> str:
    """Identity of everything that decides a file's document row: this code and [ingest]."""
    return code_key(config, ["ingest.py"])


def unchanged_document(path: Path, raw_dir: Path, known: dict[str, dict[str, Any]]) -> Document | None:
    """The last run's document for `path` when the file's size and mtime are unchanged."""
    relative = str(path.relative_to(raw_dir)) if path.is_relative_to(raw_dir) else str(path)
    row = known.get(relative)
    if row is None:
        return None
    stat = path.stat()
    if (row["source_size"], row["source_mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
        return None
    return Document(**{**row, "offset_map": load_offset_map(row["offset_map"])})


@dataclass
class IngestResult:
    documents: list[Document]
    problems: list[IngestProblem]
    reused: int = 0


def ingest_files(raw_dir: Path, config: dict[str, Any], known: dict[str, dict[str, Any]] | None = None) -> IngestResult:
    """Pure part of the stage: read every file, never raise for a bad one. `known`:
    the last run's document rows by source path, reused for unchanged files."""
    reused = 0
    documents: list[Document] = []
    problems: list[IngestProblem] = []
    seen_hashes: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for item in iter_input_files(raw_dir, config["suffixes"]):
        if isinstance(item, IngestProblem):
            problems.append(item)
            continue
        try:
            document = unchanged_document(item, raw_dir, known) if known else None
            if document is None:
                document = read_document(item, raw_dir, config)
            else:
                reused += 1
        except SkipFile as skip:
            problems.append(IngestProblem(str(item), skip.problem, skip.detail))
            continue
        except OSError as exc:
            problems.append(IngestProblem(str(item), "unreadable", str(exc)))
            continue
        if document.content_hash in seen_hashes:
            problems.append(
                IngestProblem(
                    str(item), "duplicate", f"same text as {seen_hashes[document.content_hash]}; not processed twice"
                )
            )
            continue
        if document.doc_id in seen_ids:
            problems.append(
                IngestProblem(
                    str(item),
                    "duplicate name",
                    f"doc_id {document.doc_id!r} already used by {seen_ids[document.doc_id]}",
                )
            )
            continue
        seen_hashes[document.content_hash] = document.source_path
        seen_ids[document.doc_id] = document.source_path
        documents.append(document)
    return IngestResult(documents, problems, reused)


def documents_frame(documents: list[Document]) -> pd.DataFrame:
    rows = []
    for document in documents:
        row = asdict(document)
        row["offset_map"] = json.dumps(
            [[s["text_start"], s["source_start"], s["length"], s["exact"]] for s in row["offset_map"]]
        )
        rows.append(row)
    columns = list(Document.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


def load_offset_map(serialised: str) -> list[Segment]:
    return [Segment(*item) for item in json.loads(serialised)]


def run_ingest(raw_dir: Path, processed_dir: Path, config: dict[str, Any]) -> IngestResult:
    """Stage entry point: read `raw_dir`, write documents and errors to `processed_dir`."""
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"input folder {raw_dir} does not exist")
    key = reader_key(config)
    result = ingest_files(raw_dir, config, _known_documents(processed_dir, key))
    write_parquet_atomic(processed_dir / DOCUMENTS_FILE, documents_frame(result.documents))
    write_json_atomic(processed_dir / INGEST_STATE_FILE, {"reader": key})
    errors = pd.DataFrame([asdict(p) for p in result.problems], columns=["file", "problem", "detail"])
    write_text_atomic(processed_dir / ERRORS_FILE, errors.to_csv(index=False))
    return result


def _known_documents(processed_dir: Path, key: str) -> dict[str, dict[str, Any]] | None:
    """Rows of the last run by source path, when it was read the same way."""
    state_path, documents_path = processed_dir / INGEST_STATE_FILE, processed_dir / DOCUMENTS_FILE
    try:
        if json.loads(state_path.read_text(encoding="utf-8")).get("reader") != key:
            return None
        previous = pd.read_parquet(documents_path)
    except (OSError, ValueError, AttributeError):
        return None  # no usable state: read everything
    if list(previous.columns) != list(Document.__dataclass_fields__):
        return None
    return {row["source_path"]: row for row in previous.to_dict("records")}
