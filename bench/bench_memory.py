"""Peak memory of the whole pipeline on one huge document (issue 12).

Builds one plain-text document of each size by repeating the paragraphs of the
sample press texts (data/raw: names, places, organisations, contacts, so the
document is full of mentions), runs `presseabgleich run` on it in a fresh
process and prints that process's peak resident memory (its workers included)
and the time it took.

    .venv/bin/python bench/bench_memory.py            # 1, 5 and 20 MB
    .venv/bin/python bench/bench_memory.py 1 2 --keep  # keep the folders

Target: a 20 MB document under 1.5 GB peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Runs the pipeline as a child and reports the child's peak RSS (kB on Linux):
# a fresh measuring process per size, so one size's peak never hides another's.
MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.stderr.write(done.stderr[-2000:] if done.returncode not in (0, 3) else '')\n"
)


def sample_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted((REPO / "data" / "raw").iterdir()):
        paragraphs += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return paragraphs


def write_document(path: Path, megabytes: float, paragraphs: list[str]) -> int:
    """A document of about `megabytes` million bytes of UTF-8; returns its size."""
    target = int(megabytes * 1_000_000)
    size = 0
    with open(path, "w", encoding="utf-8") as handle:
        i = 0
        while True:
            paragraph = paragraphs[i % len(paragraphs)] + "\n\n"
            length = len(paragraph.encode("utf-8"))
            if size + length > target:
                break
            handle.write(paragraph)
            size += length
            i += 1
    return size


def measure(megabytes: float, paragraphs: list[str], folder: Path) -> tuple[int, float, int]:
    raw = folder / f"raw-{megabytes:g}mb"
    raw.mkdir(parents=True)
    size = write_document(raw / "huge.txt", megabytes, paragraphs)
    processed = folder / f"processed-{megabytes:g}mb"
    config = folder / "presseabgleich.toml"
    config.write_text(
        f'[paths]\nentity_ids_file = "{folder / "entity_ids.csv"}"\ndecisions_file = "{folder / "decisions.csv"}"\n'
        f"[ingest]\nmax_file_mb = {max(25, int(megabytes) + 5)}\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--raw-dir", str(raw)]
    command += ["--processed-dir", str(processed)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - started
    returncode, peak_kb = (int(v) for v in done.stdout.split()[-2:])
    if returncode not in (0, 3):
        raise SystemExit(f"run on {megabytes} MB failed ({returncode}):\n{done.stderr}")
    return size, seconds, peak_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=float, default=[1, 5, 20], help="document sizes in MB")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args()
    paragraphs = sample_paragraphs()
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        print(f"{'document':>10} {'seconds':>9} {'peak RSS':>10}")
        for megabytes in args.sizes:
            size, seconds, peak_kb = measure(megabytes, paragraphs, folder)
            print(f"{size / 1e6:>8.1f}MB {seconds:>9.1f} {peak_kb / 1024:>7.0f} MB", flush=True)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
