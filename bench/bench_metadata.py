"""How many documents of a folder get a title, a date, an issuer and an issuer_city.

    .venv/bin/python bench/bench_metadata.py ../shared/devset/docs ../shared/devset/manifest.csv

With a manifest (CSV with `doc_id` and `date` columns, like the dev set's) it also
counts the dates that agree with it, with and without the file-name fallback
(real archives rarely put the date in the file name). `-v` lists every document.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from pipeline.config import load_config
from pipeline.ingest import ingest_files


def main() -> None:
    arguments = [a for a in sys.argv[1:] if a != "-v"]
    if not arguments:
        raise SystemExit(__doc__)
    documents = ingest_files(Path(arguments[0]), load_config()["ingest"]).documents
    truth: dict[str, str] = {}
    if len(arguments) > 1:
        with open(arguments[1], encoding="utf-8-sig", newline="") as handle:
            truth = {row["doc_id"]: row["date"] for row in csv.DictReader(handle)}
    dated = [d for d in documents if d.published]
    from_text = [d for d in dated if d.date_source == "dateline"]
    print(f"documents     {len(documents)}")
    print(f"title         {sum(bool(d.title) for d in documents)}")
    print(
        f"published     {len(dated)} (from the text {len(from_text)}, from the file name {len(dated) - len(from_text)})"
    )
    if truth:
        right = sum(d.published == truth.get(d.doc_id) for d in dated)
        right_from_text = sum(d.published == truth.get(d.doc_id) for d in from_text)
        print(f"  = manifest  {right} (from the text {right_from_text})")
    print(f"issuer        {sum(bool(d.issuer) for d in documents)}")
    print(f"issuer_city   {sum(bool(d.issuer_city) for d in documents)}")
    if "-v" in sys.argv:
        for d in documents:
            print(
                f"{d.doc_id[:40]:40} | {d.title[:40]:40} | {d.published:10} {d.date_source:8} | {d.issuer} | {d.issuer_city}"
            )


if __name__ == "__main__":
    main()
