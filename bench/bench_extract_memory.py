"""Memory of an incremental `extract` against corpus size (issue 14).

Extracts a small real corpus once (bench_pipeline's generated press texts, the
configured model), then copies its documents and mentions under new IDs into processed
folders of each size, as if an earlier run had extracted them all, marks one document
in the middle as changed and runs `presseabgleich extract` on each folder in a fresh
process. It prints the stage's wall time and peak memory (the process's own high-water
mark, VmHWM) and checks that the rows it writes are the rows it was given.

    .venv/bin/python bench/bench_extract_memory.py                  # 10,000 and 100,000 documents
    .venv/bin/python bench/bench_extract_memory.py 1000 10000 100000

Target (issue 14, docs/scaling.md): the stage's memory does not grow with the corpus
beyond its index of the documents (about 0.5 KB a document).
"""

from __future__ import annotations

import argparse
import json
import os
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
    app(["--language", "en", "extract", "--processed-dir", sys.argv[1]], standalone_mode=False)
except SystemExit as exit:
    if exit.code:
        raise
print("peak_kb", peak_kb())
"""
)


def pipeline_stage(*args: str) -> None:
    command = [sys.executable, "-m", "pipeline", "--language", "en", *args]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)


def copied_corpus(seed: Path, folder: Path, n_docs: int) -> int:
    """`n_docs` documents (copies of the seed's under new IDs, in listing order) with
    their mentions and an extraction state that reuses all but one; the number of
    mention rows."""
    import pandas as pd

    from pipeline.extract import EXTRACT_STATE_FILE, MENTIONS_FILE
    from pipeline.ingest import DOCUMENTS_FILE, DOCUMENTS_ROW_GROUP

    documents = pd.read_parquet(seed / DOCUMENTS_FILE)
    mentions = pd.read_parquet(seed / MENTIONS_FILE)
    state = pd.read_parquet(seed / EXTRACT_STATE_FILE)
    copies = -(-n_docs // len(documents))

    def copy_mentions(i: int) -> pd.DataFrame:
        # a mention ID starts with its document's ID, as do the IDs that point to mentions
        suffix = f"~{i:04d}"
        ids = {
            column: [
                v[: len(d)] + suffix + v[len(d) :] if v else v
                for v, d in zip(mentions[column], mentions["doc_id"], strict=True)
            ]
            for column in ("mention_id", "person_mention_id", "nested_in")
        }
        return mentions.assign(doc_id=mentions["doc_id"] + suffix, **ids)

    all_documents = pd.concat(
        [
            documents.assign(doc_id=documents["doc_id"] + f"~{i:04d}", content_hash=documents["content_hash"] + f"{i}")
            for i in range(copies)
        ],
        ignore_index=True,
    ).iloc[:n_docs]
    kept = set(all_documents["doc_id"])
    all_mentions = pd.concat([copy_mentions(i) for i in range(copies)], ignore_index=True)
    all_mentions = all_mentions[all_mentions["doc_id"].isin(kept)]
    new_state = all_documents[["doc_id", "content_hash"]].assign(extractor=state["extractor"].iat[0])
    new_state.loc[n_docs // 2, "content_hash"] = "changed"  # this one goes through the model again
    folder.mkdir(parents=True)
    all_documents.to_parquet(folder / DOCUMENTS_FILE, index=False, row_group_size=DOCUMENTS_ROW_GROUP)
    all_mentions.to_parquet(folder / MENTIONS_FILE, index=False, row_group_size=10_000)
    new_state.to_parquet(folder / EXTRACT_STATE_FILE, index=False)
    (folder / "expected.parquet").write_bytes((folder / MENTIONS_FILE).read_bytes())
    return len(all_mentions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--seed-docs", type=int, default=200, help="documents extracted for real (default 200)")
    parser.add_argument("--ner-data", type=Path, default=REPO.parent / "shared" / "ner-data" / "germeval2014")
    args = parser.parse_args()
    os.environ["PRESSEABGLEICH_NER_DATA"] = str(args.ner_data.resolve())
    import pandas as pd

    from pipeline.extract import MENTIONS_FILE

    work = Path(tempfile.mkdtemp(prefix="bench-extract-memory-"))
    try:
        write_corpus(work / "raw", args.seed_docs, corpus_sentences(args.ner_data))
        seed = work / "seed"
        pipeline_stage("ingest", "--raw-dir", str(work / "raw"), "--processed-dir", str(seed))
        pipeline_stage("extract", "--processed-dir", str(seed))
        for n_docs in args.sizes:
            folder = work / f"corpus-{n_docs}"
            n_mentions = copied_corpus(seed, folder, n_docs)
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", STAGE, str(folder)], check=True, capture_output=True, text=True, cwd=REPO
            )
            wall = time.perf_counter() - started
            peak_kb = int(next(line for line in out.stdout.splitlines() if line.startswith("peak_kb")).split()[1])
            same = pd.read_parquet(folder / MENTIONS_FILE).equals(pd.read_parquet(folder / "expected.parquet"))
            figures = {
                "documents": n_docs,
                "mentions": n_mentions,
                "extract_seconds": round(wall, 2),
                "peak_rss_mb": round(peak_kb / 1024),
                "same_rows": same,
            }
            print(json.dumps(figures), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
