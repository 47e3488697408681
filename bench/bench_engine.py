"""The Dask engine against the local engine on one synthetic corpus (issue 14).

Builds the corpus of bench/bench_pipeline.py (real sentences recombined, name
variants injected), then runs `presseabgleich run` three times on it, each in a
fresh folder:
  - local:    the local engine (the default),
  - dask:     `--engine dask`, the LocalCluster the command starts itself (one
              single-threaded worker per core), start-up and shut-down included,
  - dask-up:  `--engine dask --scheduler ADDRESS` on a 2-worker LocalCluster this
              script started before (a cluster that is already up, its workers set
              up as README recommends), whose workers' peak memory it reads afterwards.
For each it prints seconds per stage and words/s, the CPU seconds of the run and
all its processes (workers included; on a machine shared with other jobs a steadier
figure than wall time), the ratio local time ÷ Dask time (issue 14's target: ≥ 0.85
on 2 cores) and whether every CSV of the run is byte-identical to the local run's.

    .venv/bin/python bench/bench_engine.py            # 1,000 documents
    .venv/bin/python bench/bench_engine.py 200 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_pipeline import corpus_sentences, run_pipeline, write_corpus  # noqa: E402
from pipeline.engine import LOCAL_CLUSTER_CONFIG, worker_counts  # noqa: E402


def identical_csvs(first: Path, second: Path) -> bool:
    names = sorted(p.name for p in first.glob("*.csv"))
    if not names or names != sorted(p.name for p in second.glob("*.csv")):
        return False
    return all((first / name).read_bytes() == (second / name).read_bytes() for name in names)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (run on each worker by client.run)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="workers of the cluster that is already up")
    parser.add_argument("--ner-data", type=Path, default=REPO.parent / "shared" / "ner-data" / "germeval2014")
    args = parser.parse_args()
    import dask
    from distributed import Client, LocalCluster

    os.environ["PRESSEABGLEICH_NER_DATA"] = str(args.ner_data.resolve())
    work = Path(tempfile.mkdtemp(prefix=f"bench-engine-{args.size}-"))
    try:
        raw = work / "raw"
        texts = write_corpus(raw, args.size, corpus_sentences(args.ner_data))
        words = sum(len(t.split()) for t in texts)
        print(f"{args.size:,} documents, {words:,} words; {os.cpu_count()} cores", flush=True)
        results: dict[str, dict[str, float]] = {}
        cpu: dict[str, float] = {}
        worker_rss: dict[str, float] = {}
        worker_batches: dict[str, int] = {}
        for name in ("local", "dask", "dask-up"):
            processed = work / name / "processed"
            processed.parent.mkdir()  # its own folder: the ID registry and decisions are per run
            before = _children_cpu()
            if name == "dask-up":
                with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the worker settings README recommends
                    cluster = LocalCluster(
                        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
                    )
                with cluster, Client(cluster) as client:
                    results[name] = run_pipeline(
                        raw, processed, ["--engine", "dask", "--scheduler", cluster.scheduler_address]
                    )
                    worker_rss = client.run(_peak_rss_mb)
                    worker_batches = {k: v["batches"] for k, v in client.run(worker_counts).items()}
            else:
                results[name] = run_pipeline(raw, processed, ["--engine", "dask"] if name == "dask" else [])
            cpu[name] = _children_cpu() - before  # the workers count once they have exited
        local_total = sum(results["local"].values())
        for name, stages in results.items():
            total = sum(stages.values())
            print(
                json.dumps(
                    {
                        "engine": name,
                        "seconds": round(total, 2),
                        "words_per_s": round(words / total),
                        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
                        "stage_words_per_s": {k: round(words / v) for k, v in stages.items() if v > 0},
                        "local_over_this": round(local_total / total, 2),
                        "cpu_seconds": round(cpu[name], 1),
                        **(
                            {
                                "extract_words_per_s_per_worker": round(words / stages["extract"] / args.workers),
                                "worker_peak_rss_mb": {k: round(v) for k, v in worker_rss.items()},
                                "worker_batches": worker_batches,
                            }
                            if name == "dask-up"
                            else {}
                        ),
                    }
                ),
                flush=True,
            )
            if name != "local":
                print(
                    f"{name}: byte-identical: {'yes' if identical_csvs(work / 'local' / 'processed', work / name / 'processed') else 'no'}"
                )
        for name in ("dask", "dask-up"):
            print(
                f"LocalCluster ÷ local ({name}): {local_total / sum(results[name].values()):.2f} wall (target ≥ 0.85), "
                f"{cpu['local'] / cpu[name]:.2f} CPU"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
