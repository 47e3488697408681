"""Memory of `ingest` against corpus size, from scratch and incremental (issue 14).

Writes a folder of generated press texts (bench_pipeline's, a few KB each) per size
and runs `presseabgleich ingest` on it three times, each in a fresh process: from
scratch, then again after one file in the middle was changed (every other document
is reused from the first run), then from scratch into a second folder to check that
the incremental run wrote the same documents table. It prints each run's wall time
and peak memory (the process's own high-water mark, VmHWM).

    .venv/bin/python bench/bench_ingest_memory.py                 # 10,000 and 100,000 documents
    .venv/bin/python bench/bench_ingest_memory.py 1000 10000 100000

Target (issue 14, docs/scaling.md): the stage's memory does not grow with the corpus
beyond its index of the documents (doc_id, path, size, time and content hash).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import PEAK_KB, corpus_sentences, write_corpus  # bench/ is this script's import path

REPO = Path(__file__).resolve().parents[1]
# the stage in a child process that reports its own peak memory
STAGE = (
    PEAK_KB
    + """
import sys
from pipeline.cli import app
try:
    app(["--language", "en", "ingest", "--raw-dir", sys.argv[1], "--processed-dir", sys.argv[2]],
        standalone_mode=False)
except SystemExit as exit:
    if exit.code:
        raise
print("peak_kb", peak_kb())
"""
)


def ingest(raw: Path, processed: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one `ingest` in a fresh process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", STAGE, str(raw), str(processed)], check=True, capture_output=True, text=True, cwd=REPO
    )
    wall = time.perf_counter() - started
    peak_kb = int(next(line for line in out.stdout.splitlines() if line.startswith("peak_kb")).split()[1])
    return wall, round(peak_kb / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--ner-data", type=Path, default=REPO.parent / "shared" / "ner-data" / "germeval2014")
    args = parser.parse_args()
    import pandas as pd

    from pipeline.ingest import DOCUMENTS_FILE

    sentences = corpus_sentences(args.ner_data)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-memory-"))
    try:
        for n_docs in args.sizes:
            raw, first, fresh = work / f"raw-{n_docs}", work / f"processed-{n_docs}", work / f"fresh-{n_docs}"
            write_corpus(raw, n_docs, sentences)
            scratch_seconds, scratch_mb = ingest(raw, first)
            changed = sorted(raw.iterdir())[n_docs // 2]
            changed.write_text(changed.read_text(encoding="utf-8") + " Ergänzt am Dienstag.", encoding="utf-8")
            again_seconds, again_mb = ingest(raw, first)
            ingest(raw, fresh)
            same = pd.read_parquet(first / DOCUMENTS_FILE).equals(pd.read_parquet(fresh / DOCUMENTS_FILE))
            figures = {
                "documents": n_docs,
                "scratch_seconds": round(scratch_seconds, 2),
                "scratch_peak_rss_mb": scratch_mb,
                "one_changed_seconds": round(again_seconds, 2),
                "one_changed_peak_rss_mb": again_mb,
                "same_rows": same,
            }
            print(json.dumps(figures), flush=True)
            shutil.rmtree(raw)
            shutil.rmtree(first)
            shutil.rmtree(fresh)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
