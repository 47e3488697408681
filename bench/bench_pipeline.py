"""Throughput benchmark of the whole pipeline against bare spaCy, in one run.

Builds a synthetic corpus by sampling and recombining real sentences (GermEval
2014 and the sample press texts) with injected name variants, then measures,
for each corpus size:
  - the whole pipeline (`presseabgleich run` in a subprocess, each stage timed),
  - bare `nlp.pipe` over the same texts with the same model, the same
    components as the pipeline's model part and the same processes,
  - a naive loop `nlp(text)` with all the model's default components,
and prints documents/s, words/s, the ratios, peak memory and an incremental
run (one new document added to the processed corpus, each stage timed; three such
runs, the median reported).

    .venv/bin/python bench/bench_pipeline.py                 # 100 and 1,000 documents
    .venv/bin/python bench/bench_pipeline.py 100 1000 10000 --n-process 2
    .venv/bin/python bench/bench_pipeline.py 1000 --twin     # with the de_core_news_sm twin

`--twin` installs the structural twin of de_core_news_sm (bench/twin.py: its
published config, same compute per word, untrained weights) on the path of every
child process, so the pipeline, bare nlp.pipe and the naive loop all run the
installed-model path a user of the real model gets.

Targets (issue 14): pipeline ≥ 0.9× bare nlp.pipe at ≥ 1,000 documents, ≥ 2× the
naive loop with the twin; adding one document to a processed 10,000-document
corpus ≤ 5 % of the full run; peak memory flat in corpus size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SENTENCES_PER_DOC = 12
INCREMENTAL_RUNS = 3  # one new document each; the median is reported
VARIANTS = [
    ("Oberbürgermeisterin Dr. Katja Wellmann", "Katja Wellmann", "Katja Wellmán"),
    ("Stadtrat Jonas B. Kröger", "Jonas B. Kröger", "Jonas B. Kräger"),
    ("Aylı Demir", "Aylý Demir", "Ayli Demir"),
    ("Prof. Dr. Jürgen Weiß", "Jürgen Weiss", "Jürgen Weiß"),
]


def corpus_sentences(ner_data: Path) -> list[str]:
    import spacy

    from pipeline.germeval import docs_from_files

    vocab = spacy.blank("de").vocab
    sentences = [d.text for d in docs_from_files(vocab, sorted(ner_data.glob("*.tsv")))]
    for path in sorted((REPO / "data" / "raw").iterdir()):
        sentences += [s.strip() for s in path.read_text(encoding="utf-8").replace("\n", " ").split(". ") if len(s) > 40]
    return sentences


# Code for a child process that reports its own peak memory. On Linux ru_maxrss also
# counts the pages the child had from its parent before exec, so a child of a bench
# that holds a large corpus would report the bench's size; VmHWM is the child's own.
PEAK_KB = """
def peak_kb():
    import resource
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(line for line in status if line.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def write_corpus(folder: Path, n_docs: int, sentences: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    texts = []
    for i in range(n_docs):
        body = rng.sample(sentences, SENTENCES_PER_DOC)
        variant = rng.choice(VARIANTS)
        body.insert(rng.randrange(len(body)), f"{rng.choice(variant)} sagte am Montag in Hagen: Das ist gut.")
        text = f"Pressemitteilung {i}\n\n{i % 28 + 1}. März 2025 – " + " ".join(body)
        (folder / f"meldung-{i:05d}.txt").write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


def run_pipeline(raw: Path, processed: Path, options: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """`presseabgleich run` as a user runs it, with `options`; stage times from its log, and
    `startup` for the rest of the wall time (imports; with Dask the cluster's shut-down).
    The working directory is the benchmark's scratch folder so no state lands in the repo."""
    # the English log: the stage times are read from its "<stage> took <seconds> s" lines
    args = [sys.executable, "-m", "pipeline", "--language", "en", "run", "--raw-dir", str(raw)]
    args += ["--processed-dir", str(processed)]
    started = time.perf_counter()
    result = subprocess.run([*args, *options], cwd=processed.parent, capture_output=True, text=True, env=env)
    total = time.perf_counter() - started
    if result.returncode not in (0, 3):
        raise RuntimeError(f"run failed: {result.stderr[-2000:]}")
    times = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+(\w+) took ([\d.]+) s$", result.stderr, re.M)}
    times["startup"] = total - sum(times.values())
    return times


def bare_and_naive(
    texts: list[str], n_process: int, batch_size: int, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Run in a child process so its memory does not count against the pipeline's.
    Bare: the model part of the pipeline (load_pipeline: the same components, senter on
    for the installed model) without the rule layer; naive: `spacy.load` as it comes."""
    code = f"""
import json, sys, time, spacy
from pipeline.config import load_config
from pipeline.model import load_pipeline, model_info
config = load_config()["model"]
info = model_info(config)
texts = json.load(open(sys.argv[1], encoding="utf-8"))
nlp, _ = load_pipeline(config, log=lambda message: None, info=info)
started = time.perf_counter()
for _ in nlp.pipe(texts, batch_size={batch_size}, n_process={n_process}):
    pass
bare = time.perf_counter() - started
naive_nlp = spacy.load(config["name"] if info.kind == "installed" else info.path)  # default components
sample = texts[: max(1, len(texts) // 4)]
started = time.perf_counter()
for text in sample:
    naive_nlp(text)
naive = (time.perf_counter() - started) * len(texts) / len(sample)
print(json.dumps({{"bare": bare, "naive": naive}}))
"""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(texts, handle)
    out = subprocess.run(
        [sys.executable, "-c", code, handle.name], check=True, capture_output=True, text=True, cwd=REPO, env=env
    )
    Path(handle.name).unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000])
    parser.add_argument("--n-process", type=int, default=0, help="0 = the pipeline's automatic choice (default)")
    parser.add_argument("--ner-data", type=Path, default=REPO.parent / "shared" / "ner-data" / "germeval2014")
    parser.add_argument("--twin", action="store_true", help="run everything with the de_core_news_sm twin")
    args = parser.parse_args()
    from pipeline.extract import worker_processes

    os.environ["PRESSEABGLEICH_NER_DATA"] = str(args.ner_data.resolve())
    env = dict(os.environ)
    if args.twin:
        from twin import build_twin, write_package  # bench/ is this script's import path

        site = Path(tempfile.mkdtemp(prefix="twin-site-"))
        write_package(build_twin()[0], site)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    sentences = corpus_sentences(args.ner_data)
    print(
        f"{len(sentences):,} source sentences; {SENTENCES_PER_DOC + 1} sentences per document; "
        f"n_process={args.n_process}; model: {'de_core_news_sm twin' if args.twin else 'configured'}"
    )
    for n_docs in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"bench-{n_docs}-"))
        try:
            raw, processed = work / "raw", work / "processed"
            texts = write_corpus(raw, n_docs, sentences)
            words = sum(len(t.split()) for t in texts)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            stages = run_pipeline(raw, processed, ["--n-process", str(args.n_process)], env)
            peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            total = sum(stages.values())
            spacy_times = bare_and_naive(texts, worker_processes(args.n_process, n_docs), 64, env)
            extract = stages["extract"]
            # incremental: one more document, the whole pipeline again; three times, each
            # with a new document, and the median counts (one run is at the mercy of noise)
            write_corpus(work / "extra", INCREMENTAL_RUNS, sentences, seed=n_docs + 1)
            incremental_runs = []
            for number, extra in enumerate(sorted((work / "extra").iterdir()), 1):
                shutil.copy(extra, raw / f"meldung-neu-{number}.txt")
                incremental_runs.append(run_pipeline(raw, processed, ["--n-process", str(args.n_process)], env))
            incremental_runs.sort(key=lambda times: sum(times.values()))
            incremental = incremental_runs[len(incremental_runs) // 2]
            print(
                json.dumps(
                    {
                        "documents": n_docs,
                        "words": words,
                        "pipeline_seconds": round(total, 2),
                        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
                        "pipeline_docs_per_s": round(n_docs / total, 1),
                        "pipeline_words_per_s": round(words / total),
                        "extract_words_per_s": round(words / extract),
                        "bare_nlp_pipe_words_per_s": round(words / spacy_times["bare"]),
                        "naive_loop_words_per_s": round(words / spacy_times["naive"]),
                        "pipeline_vs_bare": round(spacy_times["bare"] / total, 2),
                        "extract_vs_bare": round(spacy_times["bare"] / extract, 2),
                        "pipeline_vs_naive": round(spacy_times["naive"] / total, 2),
                        "peak_rss_mb_any_stage": round(peak_mb),
                        "incremental_seconds": round(sum(incremental.values()), 2),
                        "incremental_stage_seconds": {k: round(v, 2) for k, v in incremental.items()},
                        "incremental_vs_full": round(sum(incremental.values()) / total, 3),
                        "incremental_runs_seconds": [round(sum(t.values()), 2) for t in incremental_runs],
                    },
                    indent=1,
                ),
                flush=True,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
