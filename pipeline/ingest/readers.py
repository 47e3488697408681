"""One reader per input format: source → (plain text, offset map, structure).

Structure is what the metadata step may use besides the text: the HTML
`<title>` and the headings, in document order. Text readers (.txt, .md, .html)
map into the decoded source file; PDF and Word readers map into the text their
library extracted (a PDF or .docx has no character offsets of its own).
"""

from __future__ import annotations

import contextlib
import gc
import io
import re
from collections.abc import Callable, Iterator

from bs4 import (
    BeautifulSoup,
    CData,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    ProcessingInstruction,
    Tag,
)
from markdown_it import MarkdownIt

from pipeline.ingest.offsets import Segment, TextBuilder
from pipeline.ingest.problems import SkipFile

Structure = dict[str, list[str]]
ReaderResult = tuple[str, list[Segment], Structure]

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
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
SKIP_TAGS = {"script", "style", "noscript", "template", "head", "svg"}
# Strings that are markup, not text. CDATA in HTML is not rendered by browsers
# (outside SVG/MathML), so its content is no text of the page either.
MARKUP_STRINGS = (Comment, Doctype, ProcessingInstruction, CData, Declaration)
# markdown-it stops parsing (and drops the rest of the file) past this nesting
# depth; the commonmark preset's 20 loses text after a deeply nested list.
MARKDOWN_MAX_NESTING = 1000
PLAIN_LINE = re.compile(r"[^\r\n\f]+|\r\n|\r|\n|\f")


def empty_structure() -> Structure:
    return {"title": [], "headings": []}


class TagPositions:
    """Source offsets of start tags, from the parser's (line, column): a text node
    lies between the tag before it and the tag after it, so it is looked for
    there and nowhere else (a word written with an entity, "M&uuml;ller", must
    not be matched to a plain "Müller" further down)."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", html)]
        self.end = len(html)

    def offset(self, tag: Tag) -> int | None:
        if tag.sourceline is None or tag.sourcepos is None or tag.sourceline > len(self.line_starts):
            return None
        return self.line_starts[tag.sourceline - 1] + tag.sourcepos

    def after_start_tag(self, tag: Tag) -> int | None:
        """Where the text after `tag`'s start tag may begin (not in its attributes)."""
        start = self.offset(tag)
        if start is None:
            return None
        close = self.html.find(">", start)
        return close + 1 if close >= 0 else start

    def bounds(self, string: NavigableString, after: int) -> tuple[int, int]:
        following = string.next_element
        while following is not None and not isinstance(following, Tag):
            following = following.next_element
        end = self.offset(following) if following is not None else None
        return after, end if end is not None and end >= after else self.end


def _walk_html(root: Tag, builder: TextBuilder, structure: Structure, positions: TagPositions | None) -> None:
    """Depth first over the tree with an explicit stack: deep nesting is no RecursionError."""
    last_tag = 0  # source offset just after the last start tag passed
    stack = [(root, iter(root.children))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if node is not root and node.name in BLOCK_TAGS:
                builder.add_separator("\n\n")
            continue
        if isinstance(child, MARKUP_STRINGS):
            continue
        if isinstance(child, NavigableString):
            text = re.sub(r"\s+", " ", str(child))
            if text.strip():
                bounds = positions.bounds(child, last_tag) if positions is not None else None
                builder.add_text(
                    text.lstrip() if not builder.parts or builder.ends_with_newline() else text, bounds=bounds
                )
            elif text:
                builder.add_separator(" ")  # "<a>Rathaus</a> <b>Politik</b>": the space between them
            continue
        if not isinstance(child, Tag):
            continue
        if positions is not None:
            last_tag = positions.after_start_tag(child) or last_tag
        if child.name in SKIP_TAGS:
            if child.name == "head":
                title = child.find("title")
                if title and title.get_text(strip=True):
                    structure["title"].append(title.get_text(" ", strip=True))
            continue
        if child.name == "br":
            builder.add_separator("\n")
            continue
        if child.name in BLOCK_TAGS:
            builder.add_separator("\n\n")
        if child.name in HEADING_TAGS:
            structure["headings"].append(child.get_text(" ", strip=True))
        if child.name in {"td", "th"}:
            builder.add_separator(" ")
        stack.append((child, iter(child.children)))


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Building a large tree, Python's cyclic garbage collector walks every object
    made so far again and again: a BeautifulSoup tree is hundreds of thousands of
    objects, and parsing plus walking 3.6 MB of HTML took twice as long as for 1.8
    MB with it running, linear without. Reference counting still frees what is
    dropped meanwhile; the tree's own cycles are collected once it is re-enabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def html_to_text(html: str, source: str | None = None) -> ReaderResult:
    """Plain text of an HTML document; pieces are located in `source` (default: the HTML)."""
    with cyclic_gc_paused():
        soup = BeautifulSoup(html, "html.parser")
        builder = TextBuilder(source if source is not None else html)
        structure = empty_structure()
        _walk_html(soup, builder, structure, TagPositions(html) if source is None else None)
        text, segments = builder.result()
    return text, segments, structure


def markdown_to_text(markdown: str) -> ReaderResult:
    """Markdown → HTML (CommonMark) → plain text located in the Markdown source.
    A line break in the source stays one (contact blocks, datelines are lines). Nesting too deep even for the raised limit: the file is read as plain text,
    so nothing of it is lost."""
    try:
        html = MarkdownIt("commonmark", {"maxNesting": MARKDOWN_MAX_NESTING, "breaks": True}).render(markdown)
    except RecursionError:
        return plain_to_text(markdown)
    return html_to_text(html, source=markdown)


def plain_to_text(raw: str) -> ReaderResult:
    """Lines as they are; CRLF, CR (old Mac) and LF are line breaks, a form feed
    (page break) a paragraph break."""
    builder = TextBuilder(raw)
    for match in PLAIN_LINE.finditer(raw):
        piece = match.group()
        if piece == "\f":
            builder._append("\n\n", match.start())
        elif piece in ("\r\n", "\r", "\n"):
            builder._append("\n", match.start())
        else:
            builder.add_text(piece, located=match.start())
    text, segments = builder.result()
    return text, segments, empty_structure()


def pdf_to_text(data: bytes) -> ReaderResult:
    """Text layer of a PDF (pdfminer.six layout analysis: text boxes become
    paragraphs, pages are separated by a form feed)."""
    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams

    try:
        extracted = extract_text(io.BytesIO(data), laparams=LAParams())
    except Exception as exc:  # pdfminer raises many unrelated types for damaged files
        raise SkipFile("unparseable", f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not extracted.strip():
        raise SkipFile("empty", "the PDF has no text layer (a scan needs OCR first)")
    return plain_to_text(extracted)


def docx_to_text(data: bytes) -> ReaderResult:
    """Paragraphs and tables of a Word document in their order; paragraphs
    styled Title or Heading are the headings."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        structure = empty_structure()
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        text = cell.text.strip()
                        if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                            cells.append(text)
                    if cells:
                        blocks.append("\n".join(cells))
                continue
            text = item.text.strip()
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            if style == "Title" or style.startswith("Heading"):
                structure["headings"].append(text)
            blocks.append(text)
    except Exception as exc:  # python-docx and zipfile raise many types for damaged files
        raise SkipFile("unparseable", f"not a readable Word document ({type(exc).__name__}: {exc})") from exc
    extracted = "\n\n".join(blocks)
    if not extracted.strip():
        raise SkipFile("empty", "the Word document has no text")
    text, segments, _ = plain_to_text(extracted)
    return text, segments, structure


TEXT_READERS: dict[str, tuple[str, Callable[[str], ReaderResult]]] = {
    ".txt": ("text", plain_to_text),
    ".md": ("markdown", markdown_to_text),
    ".markdown": ("markdown", markdown_to_text),
    ".html": ("html", html_to_text),
    ".htm": ("html", html_to_text),
}
BINARY_READERS: dict[str, tuple[str, Callable[[bytes], ReaderResult]]] = {
    ".pdf": ("pdf", pdf_to_text),
    ".docx": ("docx", docx_to_text),
}
