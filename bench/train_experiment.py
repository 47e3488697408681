"""Train the fallback NER model with a variant of the recipe and print its scores.

Each run trains into its own folder (nothing lands in the shared model cache) and
prints one JSON line: the settings, seconds and both GermEval metrics per type.

    PRESSEABGLEICH_NER_DATA=../shared/ner-data/germeval2014 \\
    nice -n 5 .venv/bin/python bench/train_experiment.py --name wide \\
        --set components.tok2vec.model.encode.width=192 --minutes 18 > /tmp/wide.log 2>&1

`--set` takes spaCy config overrides (values as JSON, else strings); `--recipe`
starts from a named recipe of pipeline.model.RECIPES.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pipeline.config import load_config
from pipeline.model import RECIPES, format_scores, train_fallback


def parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="label of this run in the output")
    parser.add_argument("--recipe", default="fast", choices=sorted(RECIPES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="spaCy config override")
    parser.add_argument("--minutes", type=float, help="max_training_minutes")
    parser.add_argument("--epochs", type=int, help="max_epochs")
    parser.add_argument("--train-files", nargs="+", help="instead of [model] train_files")
    parser.add_argument("--test-files", nargs="+", help="instead of [model] test_files")
    parser.add_argument("--early-stopping-sentences", type=int)
    parser.add_argument("--keep", type=Path, help="save the trained model here")
    args = parser.parse_args()

    model_config = load_config()["model"]
    overrides = dict(RECIPES[args.recipe])
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = parse_value(value)
    RECIPES[args.name] = overrides
    model_config["recipe"] = args.name
    for key, value in (
        ("max_training_minutes", args.minutes),
        ("max_epochs", args.epochs),
        ("train_files", args.train_files),
        ("test_files", args.test_files),
        ("early_stopping_sentences", args.early_stopping_sentences),
    ):
        if value is not None:
            model_config[key] = value

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="train-experiment-") as tmp:
        output = args.keep or Path(tmp) / "model"
        info = train_fallback(model_config, output, log=lambda line: print(line, file=sys.stderr))
    seconds = round(time.perf_counter() - started, 1)
    print(format_scores(info.evaluation), file=sys.stderr)
    settings = {k: model_config[k] for k in ("train_files", "test_files", "max_epochs", "max_training_minutes")}
    print(
        json.dumps(
            {"name": args.name, "overrides": overrides, **settings, "seconds": seconds, "evaluation": info.evaluation},
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
