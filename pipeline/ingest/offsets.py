"""Plain text with a map back into the decoded source file.

The map is a list of segments (text_start, source_start, length, exact): `length`
characters of plain text from `text_start` on come from `source_start` in the
source. In an exact segment every character maps one to one; an inexact one
(an entity like `&amp;`, a collapsed line break, a character NFC changed, a
separator the reader inserted) maps every character to its `source_start`.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from dataclasses import dataclass

WORD_OR_SPACE = re.compile(r"\S+|\s+")
# A word of these characters cannot come from an HTML entity or from Markdown
# escaping, so when it is not found near the cursor it is worth one full search.
PLAIN_WORD = re.compile(r"[A-Za-z0-9]+")
# How far past the cursor a word is looked for. Inside one text node only spaces
# and entities separate words (NEAR); before a node's first word there may be
# markup such as attributes, a link target or a skipped script (FAR). Bounding
# the search is what keeps text with many entities linear: an unbounded search
# for "Müller & Co" (written `Müller &amp; Co`) scans to the end of the file.
NEAR = 64
FAR = 4096


@dataclass
class Segment:
    """`length` characters of plain text starting at `text_start` come from `source_start`."""

    text_start: int
    source_start: int
    length: int
    exact: bool


class TextBuilder:
    """Collects plain text pieces and records where each came from in the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cursor = 0
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[Segment] = []

    def ends_with_newline(self) -> bool:
        return bool(self.parts) and self.parts[-1].endswith("\n")

    def add_separator(self, separator: str) -> None:
        """A paragraph ("\\n\\n"), line ("\\n") or word (" ") break, never doubled."""
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

    def add_text(self, piece: str, located: int | None = None, bounds: tuple[int, int] | None = None) -> None:
        """Add `piece`. `located`: its known position in the source. Else it is looked
        for after the cursor, whole and then word by word; `bounds`: the source
        region it must lie in, where the parser knows it (between the tags around it)."""
        if not piece:
            return
        if bounds is not None:
            self.cursor = max(self.cursor, bounds[0])
        if located is None:
            # Fast path: the piece as it stands (no entity, no line break in it).
            end = bounds[1] if bounds is not None else self.cursor + FAR + len(piece)
            found = self.source.find(piece, self.cursor, end)
            located = found if found >= 0 else None
        if located is not None:
            self._append(piece, located)
            self.cursor = located + len(piece)
            return
        for match in WORD_OR_SPACE.finditer(piece):
            chunk = match.group()
            if chunk[0].isspace():
                here = self.source.startswith(chunk, self.cursor)
                self._append(chunk, self.cursor if here else None)
                if here:
                    self.cursor += len(chunk)
                continue
            position = self._locate(chunk, match.start() == 0, bounds[1] if bounds is not None else None)
            self._append(chunk, position)
            if position is not None:
                self.cursor = position + len(chunk)

    def _locate(self, word: str, first: bool, end: int | None) -> int | None:
        if end is not None:
            found = self.source.find(word, self.cursor, end)
            return found if found >= 0 else None
        found = self.source.find(word, self.cursor, self.cursor + (FAR if first else NEAR) + len(word))
        if found < 0 and first and PLAIN_WORD.fullmatch(word):
            found = self.source.find(word, self.cursor)
        return found if found >= 0 else None

    def _append(self, piece: str, source_start: int | None) -> None:
        normalised = piece if piece.isascii() else unicodedata.normalize("NFC", piece)
        exact = source_start is not None and len(normalised) == len(piece)
        start = self.cursor if source_start is None else source_start
        last = self.segments[-1] if self.segments else None
        if (
            last is not None
            and last.exact == exact
            and (last.source_start + last.length == start if exact else last.source_start == start)
        ):
            last.length += len(normalised)  # continues the last segment: keep the map short
        else:
            self.segments.append(Segment(self.length, start, len(normalised), exact))
        self.parts.append(normalised)
        self.length += len(normalised)

    def result(self) -> tuple[str, list[Segment]]:
        return "".join(self.parts), self.segments


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


def source_span(segments: list[Segment], start: int, end: int) -> tuple[int, int]:
    """Source offsets of the plain-text span [start, end). The end is mapped through
    the span's last character: the position after it may already lie in markup the
    text skipped ("…de](mailto:…)")."""
    if end <= start:
        position = source_offset(segments, start)
        return position, position
    return source_offset(segments, start), source_offset(segments, end - 1) + 1


def dump_offset_map(segments: list[Segment]) -> str:
    return json.dumps([[s.text_start, s.source_start, s.length, s.exact] for s in segments])


def load_offset_map(serialised: str) -> list[Segment]:
    return [Segment(*item) for item in json.loads(serialised)]
