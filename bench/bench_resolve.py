"""Scaling benchmark for the resolve stage on generated name variants.

Generates N mentions (people, places, organisations) with the variants the
stage must handle (typos, missing diacritics, code-page damage, titles and
roles, genitive and adjective forms, abbreviations), runs `resolve()` on them
in a fresh process per size, and prints seconds and peak memory (max RSS).

    .venv/bin/python bench/bench_resolve.py            # 10k, 100k, 1M
    .venv/bin/python bench/bench_resolve.py 10000 100000
    .venv/bin/python bench/bench_resolve.py 1000000 --engine dask   # with a 2-worker LocalCluster

With `--engine dask` resolve gets the Dask engine's mapper, as `presseabgleich resolve
--engine dask` does: the new names are normalised as tasks on a LocalCluster (one
worker per core) that is started, with the gazetteers loaded on every worker, before
the clock starts.

Target (issue 14): 1M mentions in at most 60 s, growth from 100k to 1M at most 11x.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time

SIZES = [10_000, 100_000, 1_000_000]
MENTIONS_PER_DOC = 12


def damage(name: str, rng: random.Random) -> str:
    """One of the variants real press texts contain."""
    roll = rng.random()
    if roll < 0.05 and len(name) > 4:
        i = rng.randrange(1, len(name) - 1)
        return name[:i] + rng.choice("aeiouäöü") + name[i + 1 :]
    if roll < 0.08:
        return name.translate(str.maketrans("äöüßı", "aousi"))
    if roll < 0.10:
        return name.translate(str.maketrans({"ı": "ý", "ş": "þ", "ğ": "ð"}))
    return name


def generate(n: int, seed: int = 0):
    import faker.providers.person.de_DE as de
    import faker.providers.person.tr_TR as tr
    import pandas as pd

    from pipeline.gazetteers import load_gazetteers

    rng = random.Random(seed)
    first = list(de.Provider.first_names) + list(tr.Provider.first_names)
    last = list(de.Provider.last_names) + list(tr.Provider.last_names)
    places = sorted(load_gazetteers().german_municipalities)
    n_people = max(50, n // 8)
    people = [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(n_people)]
    roles = ["Oberbürgermeister", "Stadtrat", "Dr.", "Prof. Dr.", "Sprecherin", ""]
    org_kinds = ["Stadtwerke", "Kommunales Integrationszentrum", "Sparkasse", "Volkshochschule", "Stadt"]
    rows = []
    for i in range(n):
        doc = f"doc{i // MENTIONS_PER_DOC:07d}"
        kind = rng.random()
        if kind < 0.5:
            name = damage(rng.choice(people), rng)
            role = rng.choice(roles)
            text, label = name, "PER"
            sentence = f"{role} {name}, Sprecher des Netzwerks, sagte dies am Montag.".strip()
            titles = role if role in {"Dr.", "Prof. Dr."} else ""
            role_text = role if role and not titles else ""
        elif kind < 0.8:
            place = rng.choice(places)
            text = rng.choice([place, place + "s", place + "er", "NRW"]) if rng.random() < 0.3 else place
            label, sentence, titles, role_text = "LOC", f"Die Stadt {text} informiert.", "", ""
        else:
            place = rng.choice(places)
            text = f"{rng.choice(org_kinds)} {place}"
            label, sentence, titles, role_text = "ORG", f"Die {text} lädt ein.", "", ""
        start = max(sentence.find(text), 0)
        rows.append(
            {
                "doc_id": doc,
                "mention_id": f"{doc}#{i % MENTIONS_PER_DOC:04d}",
                "text": text,
                "label": label,
                "start": start,
                "end": start + len(text),
                "source_start": start,
                "source_end": start + len(text),
                "sentence": sentence,
                "label_source": "model",
                "titles": titles,
                "roles": role_text,
                "person_mention_id": "",
                "person": "",
                "nested_in": "",
            }
        )
    mentions = pd.DataFrame(rows)
    docs = sorted(set(mentions["doc_id"]))
    documents = pd.DataFrame({"doc_id": docs, "published": ["2025-01-01"] * len(docs)})
    return mentions, documents


def measure(n: int, engine: str) -> dict:
    import contextlib

    import pandas as pd

    from pipeline.config import load_config
    from pipeline.engine import batch_mapper, dask_session
    from pipeline.gazetteers import load_gazetteers
    from pipeline.resolve import REGISTRY_COLUMNS, resolve

    config = load_config()
    config["engine"]["kind"] = engine
    gaz = load_gazetteers()
    mentions, documents = generate(n)
    with dask_session(config, log=lambda message: None) if engine == "dask" else contextlib.nullcontext() as session:
        mapper = None
        if session is not None:
            # started and warm before the clock, as after extraction in `run --engine dask`
            session.client.run(lambda: bool(load_gazetteers()))
            mapper = batch_mapper(config)
        started = time.perf_counter()
        result = resolve(
            mentions, documents, pd.DataFrame(columns=REGISTRY_COLUMNS), config["resolve"], gaz=gaz, mapper=mapper
        )
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mentions": n,
        "engine": engine,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_mb),
        "entities": len(result["entities"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES)
    parser.add_argument("--engine", choices=["local", "dask"], default="local")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process of one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.sizes[0], args.engine)))
        return
    engine = args.engine
    results = []
    for n in args.sizes:
        command = [sys.executable, __file__, "--one", str(n), "--engine", engine]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{r['mentions']:>9,} mentions ({engine}): {r['seconds']:>8.2f} s, peak {r['peak_rss_mb']:>6,} MB "
            f"(this process), {r['entities']:,} entities",
            flush=True,
        )
    by_size = {r["mentions"]: r for r in results}
    if 100_000 in by_size and 1_000_000 in by_size:
        growth = by_size[1_000_000]["seconds"] / by_size[100_000]["seconds"]
        print(
            f"growth 100k → 1M: {growth:.1f}x time (target ≤ 11x, 1M in ≤ 60 s), "
            f"{by_size[1_000_000]['peak_rss_mb'] / by_size[100_000]['peak_rss_mb']:.1f}x memory"
        )


if __name__ == "__main__":
    main()
