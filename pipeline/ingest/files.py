"""Finding the input files: a walk that survives whatever a shared drive holds.

Symbolic link loops, dangling links, links out of the folder, unreadable
folders, sockets and files of unknown type are reported, never fatal. File
names that are not UTF-8 (Latin-1 bytes from Windows tools) are read as
Windows-1252 for display and IDs; control characters in names are escaped
wherever a name is shown or stored.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.problems import NOTE, IngestProblem, escape_unprintable

# Hidden files (.DS_Store, editor swap files) and Office lock files (~$brief.docx)
# are no press releases and are skipped without a message.
SILENT_PREFIXES = (".", "~$")
KEY_SEPARATOR = "|"


@dataclass
class InputFile:
    path: Path  # as the file system names it (may hold surrogate escapes)
    relative: str  # printable, POSIX, relative to the input folder
    doc_id: str
    relative_bytes: bytes  # the relative path as the file system stores it


def printable_name(name: str) -> str:
    """A file name as text: UTF-8 where it is; otherwise its bytes (kept by the
    file system as surrogate escapes) read as Windows-1252, or Latin-1 for the
    five bytes Windows-1252 leaves undefined. Deterministic, so IDs are stable."""
    raw = os.fsencode(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return escape_unprintable(text)


def doc_id_for(relative: str) -> str:
    """The relative path without its extension, NFC: "a.txt" → "a", "2024/a.txt" → "2024/a".

    "|" becomes "¦": "|" separates the parts of resolve's keys ("PER|doc:…|surname";
    a "|" in a doc_id once cut a surname mention off its full name, a spurious
    person) and " | " the items of the exported lists (a `documents` cell
    "a | b" would read as two documents). source_path keeps the real name."""
    folder, _, name = relative.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    doc_id = f"{folder}/{stem}" if folder else stem
    return unicodedata.normalize("NFC", doc_id.replace(KEY_SEPARATOR, "¦"))


def _link_problem(path: Path, root: Path) -> tuple[str, str] | None:
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "symbolic link loop", "the link leads back to itself; not followed"
    except FileNotFoundError:
        return "dangling symbolic link", f"its target {printable_name(os.readlink(path))} does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop", "the link leads back to itself; not followed"
        return "unreadable", exc.strerror or str(exc)
    if not target.is_relative_to(root):
        return "outside input folder", f"symbolic link to {printable_name(str(target))}; not followed"
    return None


def iter_input_files(
    raw_dir: Path, suffixes: Iterable[str], exclude: Iterable[Path] = ()
) -> Iterator[InputFile | IngestProblem]:
    """Files under `raw_dir` in a stable (sorted) order, or a problem for what
    cannot be read. `exclude`: our own outputs (the processed folder, the ID
    registry, the decisions file), never read even where they lie inside."""
    wanted = {s.lower() for s in suffixes}
    root = raw_dir.resolve()
    excluded = {path: path.name for path in (Path(p).resolve() for p in exclude)}  # path → its name
    yield from _walk(raw_dir, "", b"", root, wanted, excluded)


def _walk(
    folder: Path, relative: str, relative_bytes: bytes, root: Path, wanted: set[str], excluded: dict[Path, str]
) -> Iterator[InputFile | IngestProblem]:
    shown_folder = printable_name(str(folder))
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        yield IngestProblem(shown_folder, "unreadable folder", exc.strerror or str(exc))
        return
    for entry in entries:
        if entry.name.startswith(SILENT_PREFIXES):
            continue
        path = Path(entry.path)
        name = printable_name(entry.name)
        shown = f"{relative}/{name}" if relative else name
        shown_bytes = relative_bytes + b"/" + os.fsencode(entry.name) if relative_bytes else os.fsencode(entry.name)
        shown_path = f"{shown_folder}/{name}"
        try:
            if entry.is_symlink():
                problem = _link_problem(path, root)
                if problem:
                    yield IngestProblem(shown_path, *problem)
                    continue
                if path.is_dir():
                    yield IngestProblem(shown_path, "linked folder", "its files are read where they lie", NOTE)
                    continue
            # resolving every path costs more than reading the folder: only a link, or an entry
            # named like an excluded path, can resolve to one (linked folders are not walked)
            if (entry.is_symlink() or entry.name in excluded.values()) and path.resolve() in excluded:
                yield IngestProblem(shown_path, "own output", "written by this tool; not read as input", NOTE)
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(path, shown, shown_bytes, root, wanted, excluded)
                continue
            if not path.is_file():
                yield IngestProblem(shown_path, "not a regular file", "a device, socket or pipe; not read")
                continue
        except OSError as exc:
            yield IngestProblem(shown_path, "unreadable", exc.strerror or str(exc))
            continue
        suffix = Path(name).suffix.lower()
        if suffix not in wanted:
            kind = suffix or "without extension"
            yield IngestProblem(
                shown_path, f"unsupported file type {kind}", f"only {', '.join(sorted(wanted))} are read"
            )
            continue
        yield InputFile(path, shown, doc_id_for(shown), shown_bytes)
