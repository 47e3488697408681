"""Bytes of a text file → str, for the encodings German press offices use."""

from __future__ import annotations

import re
from collections.abc import Iterable

from charset_normalizer import from_bytes

from pipeline.ingest.problems import SkipFile

WESTERN_CODEPAGES = {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}
# Bytes where Windows-1254 (Turkish) and Windows-1252 differ: ğ İ Ş ı ş Ğ vs ð Ý Þ ý þ Ð.
TURKISH_BYTES = re.compile(rb"[\xd0\xdd\xde\xf0\xfd\xfe]")
UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


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


LINE_BREAKS_AND_TABS = str.maketrans("\n\r\t", "   ")


def check_is_text(text: str, min_printable_ratio: float) -> None:
    """Raise SkipFile when decoded text is really binary data."""
    sample = text[:65536]
    if "\x00" in sample:
        raise SkipFile("binary", "contains NUL bytes; not a text file")
    if sample.translate(LINE_BREAKS_AND_TABS).isprintable():
        return  # the usual case, checked in C; counting character by character is slow
    printable = sum(1 for ch in sample if ch.isprintable() or ch in "\n\r\t")
    if sample and printable / len(sample) < min_printable_ratio:
        raise SkipFile("binary", f"only {printable / len(sample):.0%} printable characters; not a text file")


def text_file_bytes(data: bytes) -> bytes:
    """`data` unchanged, or SkipFile when NUL bytes mark it as binary (UTF-16/32 excepted)."""
    if b"\x00" in data[:8192] and not data.startswith(UTF16_32_BOMS):
        raise SkipFile("binary", "contains NUL bytes; not a text file")
    return data
