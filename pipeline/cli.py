"""Command line: one subcommand per stage, plus `run` for all of them.

Exit codes: 0 success, 1 failure, 3 partial success (some input files were
skipped; they are listed in data/processed/ingest_errors.csv).
"""

from __future__ import annotations

import sys
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
    int | None, typer.Option("--n-process", help="Worker processes for nlp.pipe (config: extract.n_process).")
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
    log(f"ingest: {len(result.documents)} documents read from {raw_dir}, {len(result.problems)} skipped")
    if result.problems:
        log(f"        skipped files are listed in {processed_dir / ERRORS_FILE}")
    if not result.documents:
        log("error: no usable documents")
        return 1
    return EXIT_PARTIAL if result.problems else 0


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


def _export(cfg: dict[str, Any]) -> None:
    from pipeline.export import DIALECTS, run_export

    processed_dir = Path(cfg["paths"]["processed_dir"])
    if cfg["export"]["csv_dialect"] not in DIALECTS:
        log(f"error: unknown CSV dialect {cfg['export']['csv_dialect']!r}; use one of {', '.join(DIALECTS)}")
        raise typer.Exit(1)
    try:
        tables = run_export(processed_dir, cfg)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        raise typer.Exit(1) from exc
    log(f"export: {', '.join(tables)} ({cfg['export']['csv_dialect']}) and presseabgleich.xlsx in {processed_dir}")


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
    code = _ingest(cfg)
    if code == 1:
        raise typer.Exit(1)
    _extract(cfg)
    _resolve(cfg)
    _export(cfg)
    raise typer.Exit(code)


@app.command("train-model")
def train_model(
    config: ConfigOption = None, force: Annotated[bool, typer.Option(help="Retrain even if cached.")] = False
) -> None:
    """Train (or show) the fallback German NER model used when de_core_news_sm is missing."""
    import json
    import shutil

    from pipeline.model import cache_dir, ensure_fallback_model, fallback_key

    cfg = _config(config)
    if force:
        target = cache_dir(cfg["model"]) / f"de_ner_{fallback_key(cfg['model'])[:16]}"
        shutil.rmtree(target, ignore_errors=True)
    info = ensure_fallback_model(cfg["model"], log=log)
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
