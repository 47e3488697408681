"""Command line: one subcommand per stage, plus `run` for all of them.

Exit codes: 0 success, 1 failure, 3 partial success (some input files were
skipped; they are listed in data/processed/ingest_errors.csv).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.config import ConfigError, load_config

EXIT_PARTIAL = 3

app = typer.Typer(
    help="Presseabgleich: German press releases → people, places and organisations, reconciled.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file overriding the packaged defaults.")
]
RawOption = Annotated[Path | None, typer.Option("--raw-dir", help="Folder of press releases (config: paths.raw_dir).")]
ProcessedOption = Annotated[
    Path | None, typer.Option("--processed-dir", help="Folder for derived tables (config: paths.processed_dir).")
]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="spaCy pipeline to use when installed (config: model.name).")
]
DialectOption = Annotated[
    str | None,
    typer.Option("--csv-dialect", help="excel (comma) or excel-de (semicolon) (config: export.csv_dialect)."),
]
NProcessOption = Annotated[
    int | None,
    typer.Option("--n-process", help="Worker processes for nlp.pipe, 0 = automatic (config: extract.n_process)."),
]


def log(message: str) -> None:
    typer.echo(message, err=True)


def _config(
    config: Path | None,
    raw_dir: Path | None = None,
    processed_dir: Path | None = None,
    model: str | None = None,
    n_process: int | None = None,
    csv_dialect: str | None = None,
) -> dict[str, Any]:
    try:
        return load_config(
            config,
            {
                "paths": {
                    "raw_dir": str(raw_dir) if raw_dir else None,
                    "processed_dir": str(processed_dir) if processed_dir else None,
                },
                "model": {"name": model},
                "extract": {"n_process": n_process},
                "export": {"csv_dialect": csv_dialect},
            },
        )
    except ConfigError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files a killed run left behind (the finished files are intact)."""
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)


def timed(stage: Callable[..., Any]) -> Callable[..., Any]:
    """Log how long a stage took (users see where time goes; the benchmark reads it)."""

    @functools.wraps(stage)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return stage(*args, **kwargs)
        finally:
            log(f"        {stage.__name__.lstrip('_')} took {time.perf_counter() - started:.2f} s")

    return wrapper


@timed
def _ingest(cfg: dict[str, Any]) -> int:
    from pipeline.ingest import ERRORS_FILE, run_ingest

    raw_dir = Path(cfg["paths"]["raw_dir"])
    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        result = run_ingest(raw_dir, processed_dir, cfg["ingest"])
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    for problem in result.problems:
        log(f"skipped {problem.file}: {problem.problem} ({problem.detail})")
    log(
        f"ingest: {len(result.documents)} documents from {raw_dir} ({result.reused} unchanged since the last run), "
        f"{len(result.problems)} skipped"
    )
    if result.problems:
        log(f"        skipped files are listed in {processed_dir / ERRORS_FILE}")
    if not result.documents:
        log("error: no usable documents")
        return 1
    return EXIT_PARTIAL if result.problems else 0


@timed
def _extract(cfg: dict[str, Any]) -> None:
    from pipeline.extract import MENTIONS_FILE, run_extract

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        mentions, _ = run_extract(processed_dir, cfg, log=log)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    counts = mentions["label"].value_counts().to_dict() if len(mentions) else {}
    summary = ", ".join(f"{label} {count}" for label, count in sorted(counts.items()))
    log(f"extract: {len(mentions)} mentions ({summary}) → {processed_dir / MENTIONS_FILE}")


@timed
def _resolve(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from pipeline.resolve import ENTITIES_FILE, run_resolve

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        result = run_resolve(processed_dir, cfg, run_stamp=datetime.now(UTC).isoformat(timespec="seconds"))
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    entities = result["entities"]
    counts = entities["type"].value_counts().to_dict()
    undecided = int((entities["canonical_status"] == "undecided").sum())
    log(
        f"resolve: {len(result['links'])} mentions → {len(entities)} entities "
        f"(PER {counts.get('PER', 0)}, LOC {counts.get('LOC', 0)}, ORG {counts.get('ORG', 0)}; "
        f"{undecided} with an undecided name) → {processed_dir / ENTITIES_FILE}"
    )
    for old, new in result["merged_ids"].items():
        log(f"        entity {old} is now part of {new} (merged by new evidence)")


@timed
def _export(cfg: dict[str, Any], background: bool = False) -> Any:
    """Returns the workbook job still running when `background` (see _workbook)."""
    from pipeline.export import DIALECTS, run_export

    processed_dir = Path(cfg["paths"]["processed_dir"])
    if cfg["export"]["csv_dialect"] not in DIALECTS:
        log(f"error: unknown CSV dialect {cfg['export']['csv_dialect']!r}; use one of {', '.join(DIALECTS)}")
        raise typer.Exit(1)
    try:
        tables, workbook = run_export(processed_dir, cfg, log=log, background=background)
    except (FileNotFoundError, RuntimeError) as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    written = ", ".join(tables) + (" and presseabgleich.xlsx" if cfg["export"]["write_xlsx"] else "")
    log(f"export: {written} ({cfg['export']['csv_dialect']}) in {processed_dir}")
    return workbook


@timed
def _workbook(job: Any) -> None:
    """Wait for the workbook that `run` lets the export stage write in the background."""
    try:
        job.wait()
    except RuntimeError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc


@timed
def _report(cfg: dict[str, Any]) -> None:
    from pipeline.report import DISCREPANCIES_CSV, DISCREPANCIES_HTML, run_report
    from pipeline.resolve import DECISION_STATUS_FILE

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        discrepancies = run_report(processed_dir, cfg)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    open_items = discrepancies[discrepancies["status"] == "open"]
    log(
        f"report: {len(open_items)} open and {len(discrepancies) - len(open_items)} decided discrepancies "
        f"→ {processed_dir / DISCREPANCIES_HTML}"
    )
    limit = cfg["report"]["log_open_limit"]
    for row in open_items.head(limit).itertuples(index=False):
        log(f"        {row.kind:<16} {row.entity_id or '-':<13} {row.canonical_name}")
    if len(open_items) > limit:
        kinds = open_items["kind"].value_counts().to_dict()
        log(
            f"        … and {len(open_items) - limit} more ("
            + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            + f" in all) in {processed_dir / DISCREPANCIES_CSV}"
        )
    import pandas as pd

    statuses = pd.read_parquet(processed_dir / DECISION_STATUS_FILE)
    for row in statuses[statuses["status"] != "applied"].itertuples(index=False):
        log(
            f"warning: decision {row.decision_id or '?'} ({row.action or '?'} {row.entity_id}) {row.status}: {row.detail}"
        )


@app.command()
def ingest(config: ConfigOption = None, raw_dir: RawOption = None, processed_dir: ProcessedOption = None) -> None:
    """Stage 1: read .txt/.md/.html press releases into documents.parquet."""
    code = _ingest(_config(config, raw_dir, processed_dir))
    raise typer.Exit(code)


@app.command()
def extract(
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    model: ModelOption = None,
    n_process: NProcessOption = None,
) -> None:
    """Stage 2: German NER plus rules over documents.parquet into mentions.parquet."""
    _extract(_config(config, None, processed_dir, model, n_process))


@app.command()
def resolve(config: ConfigOption = None, processed_dir: ProcessedOption = None) -> None:
    """Stage 3: merge variant names across documents into entities (entities.parquet)."""
    _resolve(_config(config, None, processed_dir))


@app.command()
def export(
    config: ConfigOption = None, processed_dir: ProcessedOption = None, csv_dialect: DialectOption = None
) -> None:
    """Stage 4: people/places/organisations/mentions as CSV (UTF-8 BOM) and one XLSX workbook."""
    _export(_config(config, None, processed_dir, csv_dialect=csv_dialect))


@app.command()
def report(
    config: ConfigOption = None, processed_dir: ProcessedOption = None, csv_dialect: DialectOption = None
) -> None:
    """Stage 5: discrepancies for review (discrepancies.csv and a self-contained discrepancies.html)."""
    _report(_config(config, None, processed_dir, csv_dialect=csv_dialect))


@app.command()
def run(
    config: ConfigOption = None,
    raw_dir: RawOption = None,
    processed_dir: ProcessedOption = None,
    model: ModelOption = None,
    n_process: NProcessOption = None,
    csv_dialect: DialectOption = None,
) -> None:
    """All stages in order on the input folder."""
    cfg = _config(config, raw_dir, processed_dir, model, n_process, csv_dialect)
    _remove_stale_temporaries(Path(cfg["paths"]["processed_dir"]))
    code = _ingest(cfg)
    if code == 1:
        raise typer.Exit(1)
    _extract(cfg)
    _resolve(cfg)
    workbook = _export(cfg, background=True)
    _report(cfg)
    if workbook is not None:
        _workbook(workbook)
    raise typer.Exit(code)


@app.command()
def evaluate(
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    gold_dir: Annotated[
        Path | None, typer.Option("--gold-dir", help="Folder with gold_*.csv (shared/gold-format.md).")
    ] = None,
    germeval: Annotated[
        list[Path] | None,
        typer.Option(
            "--germeval",
            help="GermEval file (.tsv or .iob2) to score the NER model on, official and pipeline metric (repeatable).",
        ),
    ] = None,
) -> None:
    """Score the last run against gold files and/or the NER model on GermEval files."""
    from pipeline.evaluate import evaluate_germeval, evaluate_run, write_results

    cfg = _config(config, None, processed_dir)
    folder = Path(cfg["paths"]["processed_dir"])
    if gold_dir is None and not germeval:
        log("error: give --gold-dir and/or --germeval")
        raise typer.Exit(1)
    results: dict[str, Any] = {}
    try:
        if gold_dir is not None:
            results.update(evaluate_run(folder, gold_dir))
        if germeval:
            missing = [str(p) for p in germeval if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"GermEval file(s) not found: {', '.join(missing)}")
            results["germeval"] = evaluate_germeval(cfg["model"], list(germeval))
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    table = write_results(results, folder)
    pivot = table.pivot_table(index=["section", "item"], columns="metric", values="value", sort=False)
    typer.echo(pivot.to_string(float_format=lambda v: f"{v:.3f}"))
    log(f"evaluation: {folder / 'evaluation.csv'}, {folder / 'evaluation.json'}")


review_app = typer.Typer(
    help="Record reviewer decisions (appended to the decisions file; see README).", no_args_is_help=True
)
app.add_typer(review_app, name="review")
ReviewerOption = Annotated[str | None, typer.Option("--reviewer", help="Who decides (default: $USER).")]
NoteOption = Annotated[str, typer.Option("--note", help="Why, in a few words.")]


def _record(cfg: dict[str, Any], reviewer: str | None, **fields: str) -> None:
    import os

    from pipeline.decisions import Decision, append_decision

    path = Path(cfg["paths"]["decisions_file"])
    decision = Decision(decision_id="", reviewer=reviewer or os.environ.get("USER", ""), **fields)
    decision = append_decision(path, decision)
    log(
        f"decision {decision.decision_id} ({decision.action} {decision.entity_id}) recorded in {path}; it applies from the next run"
    )


def _entities(cfg: dict[str, Any]):
    from pipeline.io import read_parquet
    from pipeline.resolve import ENTITIES_FILE

    try:
        return read_parquet(Path(cfg["paths"]["processed_dir"]) / ENTITIES_FILE, "run")
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc


def _known_entity(cfg: dict[str, Any], entity_id: str):
    entities = _entities(cfg)
    match = entities[entities["entity_id"] == entity_id]
    if match.empty:
        log(f"error: no entity {entity_id!r} in the last run's outputs")
        raise typer.Exit(1)
    return match.iloc[0]


@review_app.command("list")
def review_list(config: ConfigOption = None) -> None:
    """Show the open discrepancies of the last run."""
    import pandas as pd

    from pipeline.report import DISCREPANCIES_CSV

    cfg = _config(config)
    path = Path(cfg["paths"]["processed_dir"]) / DISCREPANCIES_CSV
    if not path.is_file():
        log(f"error: {path} is missing: run `presseabgleich run` first")
        raise typer.Exit(1)
    sep = ";" if cfg["export"]["csv_dialect"] == "excel-de" else ","
    frame = pd.read_csv(path, encoding="utf-8-sig", sep=sep, dtype=str, keep_default_na=False)
    for row in frame[frame["status"] == "open"].itertuples(index=False):
        typer.echo(f"{row.entity_id}\t{row.kind}\t{row.variants}\tsuggested: {row.suggested or '(undecided)'}")


@review_app.command("accept")
def review_accept(
    entity_id: str, config: ConfigOption = None, reviewer: ReviewerOption = None, note: NoteOption = ""
) -> None:
    """Accept the suggested canonical name of ENTITY_ID as it stands now."""
    cfg = _config(config)
    entity = _known_entity(cfg, entity_id)
    if entity["canonical_status"] == "undecided":
        log(f"error: {entity_id} has no suggestion (the texts tie); choose a form with `review rename`")
        raise typer.Exit(1)
    _record(
        cfg,
        reviewer,
        action="accept",
        entity_id=entity_id,
        value=entity["canonical_name"],
        note=note,
    )


@review_app.command("rename")
def review_rename(
    entity_id: str, name: str, config: ConfigOption = None, reviewer: ReviewerOption = None, note: NoteOption = ""
) -> None:
    """Set the canonical name of ENTITY_ID to NAME."""
    cfg = _config(config)
    _known_entity(cfg, entity_id)
    if not name.strip():
        log("error: the name is empty")
        raise typer.Exit(1)
    _record(
        cfg,
        reviewer,
        action="rename",
        entity_id=entity_id,
        value=name.strip(),
        note=note,
    )


@review_app.command("split")
def review_split(
    entity_id: str,
    mention: Annotated[
        list[str], typer.Option("--mention", help="'doc_id: text' of a mention that is someone else (repeatable).")
    ],
    config: ConfigOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """Split mentions off ENTITY_ID: they name a different person, place or organisation."""
    cfg = _config(config)
    _known_entity(cfg, entity_id)
    if not mention or any(":" not in m for m in mention):
        log("error: give each mention as --mention 'doc_id: text'")
        raise typer.Exit(1)
    _record(
        cfg,
        reviewer,
        action="split",
        entity_id=entity_id,
        mentions="; ".join(mention),
        note=note,
    )


@review_app.command("merge")
def review_merge(
    entity_id: str, other_id: str, config: ConfigOption = None, reviewer: ReviewerOption = None, note: NoteOption = ""
) -> None:
    """Merge OTHER_ID into ENTITY_ID (they are the same); ENTITY_ID's ID is kept."""
    cfg = _config(config)
    _known_entity(cfg, entity_id)
    _known_entity(cfg, other_id)
    _record(
        cfg,
        reviewer,
        action="merge",
        entity_id=entity_id,
        value=other_id,
        note=note,
    )


@app.command("train-model")
def train_model(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option(help="Retrain even if cached.")] = False,
    recipe: Annotated[
        str | None, typer.Option(help="Training recipe: fast (default) or accurate (see docs/model.md).")
    ] = None,
) -> None:
    """Train (or show) the fallback German NER model used when de_core_news_sm is missing,
    with its per-type scores on the GermEval test file."""
    import json
    import shutil

    from pipeline.model import ensure_fallback_model, format_scores, model_dir

    cfg = _config(config)
    if recipe is not None:
        cfg["model"]["recipe"] = recipe
    try:
        if force:
            shutil.rmtree(model_dir(cfg["model"]), ignore_errors=True)
        info = ensure_fallback_model(cfg["model"], log=log)
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    log(format_scores(info.evaluation))
    typer.echo(
        json.dumps(
            {
                "model": info.describe(),
                "path": info.path,
                "training_seconds": info.training_seconds,
                "evaluation": info.evaluation,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        log("interrupted: outputs written so far are complete; nothing was half-written")
        sys.exit(130)


if __name__ == "__main__":
    main()
