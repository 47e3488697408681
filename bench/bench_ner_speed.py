"""Bare `nlp.pipe` speed of a NER model on one core, in words (tokens) per second.

Texts are GermEval test sentences joined twelve to a document (press-release
length). The model runs as saved (for the fallback: tok2vec, ner and the label
mapping), in one process with one BLAS thread; the best of `--repeat` passes counts.
Words per CPU second (process time) is the one-core speed even on a busy machine,
where wall-clock time also counts the waits for a core.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ner_speed.py                 # the configured model
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ner_speed.py --model PATH    # a saved pipeline
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy is imported: one core

SENTENCES_PER_DOC = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="saved spaCy pipeline (default: the configured model)")
    parser.add_argument("--file", default="NER-de-test-part1.tsv", help="GermEval file the texts come from")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import spacy

    from pipeline.config import load_config
    from pipeline.germeval import docs_from_files
    from pipeline.model import model_info, ner_data_dir

    model_config = load_config()["model"]
    path = args.model or Path(model_info(model_config).path)
    nlp = spacy.load(path)
    sentences = [d.text for d in docs_from_files(nlp.vocab, [ner_data_dir(model_config) / args.file])]
    texts = [" ".join(sentences[i : i + SENTENCES_PER_DOC]) for i in range(0, len(sentences), SENTENCES_PER_DOC)]
    best_wall = best_cpu = float("inf")
    words = 0
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
        best_wall = min(best_wall, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    print(
        json.dumps(
            {
                "model": str(path),
                "components": nlp.pipe_names,
                "docs": len(texts),
                "words": words,
                "wall_seconds": round(best_wall, 2),
                "cpu_seconds": round(best_cpu, 2),
                "words_per_wall_s": round(words / best_wall),
                "words_per_cpu_s": round(words / best_cpu),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
