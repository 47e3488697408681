"""Ingest speed on one large HTML file, with and without HTML entities.

Writes a generated 1.8 MB press page twice — once in plain characters, once
with its `&`, quotes and umlauts written as entities (`&amp;`, `&bdquo;`,
`&uuml;`, as content management systems export them) — and prints the seconds
`read_document` takes for each (best of three). Entity-heavy HTML once took 24 s
against 3 s: the text of each node was searched for in the source as a whole,
which an entity defeats, so every node scanned to the end of the file.

    .venv/bin/python bench/bench_ingest.py            # 1.8 MB
    .venv/bin/python bench/bench_ingest.py 5          # 5 MB
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pipeline.config import load_config
from pipeline.ingest import read_document

# Short text nodes, as in navigation lists, tables and inline markup: each one is a
# search in the source. One "paragraph" is about 600 bytes with 14 text nodes.
PARAGRAPH = (
    "<ul><li><a href='/rathaus'>Rathaus &amp; Politik</a></li><li><a href='/kultur'>Kultur &amp; "
    "Freizeit</a></li><li><a href='/bildung'>Bildung &amp; Integration</a></li></ul>\n"
    "<p>Die Stadt &amp; der Kreis laden ein: <b>&bdquo;M&uuml;ller &amp; S&ouml;hne&ldquo;</b> "
    "er&ouml;ffnen am Montag das <i>B&uuml;rgerb&uuml;ro</i> &ndash; <b>Oberb&uuml;rgermeisterin</b> "
    "Anna Schmidt &amp; <b>Dezernent</b> Peter Krause sprachen&nbsp;von einem <em>&bdquo;gro&szlig;en "
    "Tag&ldquo;</em> f&uuml;r <a href='/jung'>Jung &amp; Alt</a>.</p>\n"
)
PLAIN = (
    PARAGRAPH.replace("&amp;", "und")
    .replace("&bdquo;", "„")
    .replace("&ldquo;", "“")
    .replace("&uuml;", "ü")
    .replace("&ouml;", "ö")
    .replace("&ndash;", "–")
    .replace("&nbsp;", " ")
    .replace("&szlig;", "ß")
)


def page(paragraph: str, megabytes: float) -> str:
    body = paragraph * int(megabytes * 1024 * 1024 / len(paragraph.encode("utf-8")))
    return f"<!DOCTYPE html><html><head><title>Bench</title></head><body>{body}</body></html>"


def seconds(path: Path, config: dict) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        read_document(path, path.parent, config)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 1.8
    config = load_config()["ingest"]
    with tempfile.TemporaryDirectory() as folder:
        for label, paragraph in (("without entities", PLAIN), ("with entities", PARAGRAPH)):
            path = Path(folder) / f"{label.replace(' ', '-')}.html"
            path.write_text(page(paragraph, megabytes), encoding="utf-8")
            size = path.stat().st_size / 1024 / 1024
            print(f"{label:17} {size:.1f} MB: {seconds(path, config):.2f} s", flush=True)


if __name__ == "__main__":
    main()
