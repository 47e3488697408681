"""Command line: one subcommand per stage, plus `run` for all of them.

Exit codes: 0 success, 1 failure, 3 partial success (some input files were
skipped; they are listed in data/processed/ingest_errors.csv).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.config import ConfigError, default_config, load_config
from pipeline.messages import LANGUAGE_ENV, LANGUAGES, decimal, problem_name, say, set_language

EXIT_PARTIAL = 3
DEFAULTS = default_config()  # the packaged config.toml: --help shows its values as the defaults


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("presseabgleich")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"presseabgleich {_version()}")
        raise typer.Exit()


app = typer.Typer(
    help="Presseabgleich: German press releases → people, places and organisations, reconciled.",
    no_args_is_help=True,
    add_completion=False,
)


_language_option: str | None = None  # `--language` of this invocation; beats the config and the environment


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help=f"Language of the log, the review messages and the report: de or en (also ${LANGUAGE_ENV}).",
            show_default=f"{DEFAULTS['report']['language']}, config report.language",
        ),
    ] = None,
) -> None:
    """Presseabgleich: German press releases → people, places and organisations, reconciled.

    Example: presseabgleich run --raw-dir Pressemitteilungen
    """
    global _language_option
    _language_option = language.strip().lower() if language else None
    # until the configuration is read, the flag or the environment decides; each invocation starts afresh
    ctx.call_on_close(lambda: set_language(None))
    set_language(_language_option if _language_option in LANGUAGES else None)
    if _language_option is not None and _language_option not in LANGUAGES:
        log(say("unknown_language", value=language, where="--language"))
        raise typer.Exit(1)


def example(*command_lines: str) -> str:
    """The help epilog of a command: how it is typically called."""
    return "Example: " + "  |  ".join(f"presseabgleich {line}" for line in command_lines)


def _default(section: str, key: str) -> str:
    """What --help shows as the default of an option whose value comes from the config."""
    return f"{DEFAULTS[section][key]}, config {section}.{key}"


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file overriding the packaged defaults.",
        show_default="./presseabgleich.toml if it exists",
    ),
]
RawOption = Annotated[
    Path | None, typer.Option("--raw-dir", help="Folder of press releases.", show_default=_default("paths", "raw_dir"))
]
ProcessedOption = Annotated[
    Path | None,
    typer.Option("--processed-dir", help="Folder for derived tables.", show_default=_default("paths", "processed_dir")),
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="spaCy pipeline to use when installed.", show_default=_default("model", "name")),
]
DialectOption = Annotated[
    str | None,
    typer.Option(
        "--csv-dialect",
        help="excel-de (semicolon, decimal comma) or excel (comma, decimal point).",
        show_default=_default("export", "csv_dialect"),
    ),
]
NProcessOption = Annotated[
    int | None,
    typer.Option(
        "--n-process",
        help="Worker processes for extraction, 0 = automatic.",
        show_default=_default("extract", "n_process"),
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine", help="Where ingest and extraction run: local or dask.", show_default=_default("engine", "kind")
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786) for --engine dask; empty starts a LocalCluster.",
        show_default="empty, config engine.scheduler",
    ),
]


def log(message: str) -> None:
    typer.echo(message, err=True)


def _error(exc: BaseException) -> str:
    """The log line for an error a stage raised: files the user must make first and
    outputs that cannot be written in the reader's language, others with their own text."""
    from pipeline.io import MissingInput, OutputWriteError

    if isinstance(exc, MissingInput):
        return say("missing_output", path=exc.path, stage=exc.stage)
    if isinstance(exc, OutputWriteError):
        return say("write_failed", path=exc.target, reason=exc.cause.strerror or exc.cause)
    return say("error", detail=exc)


def _choose_language(cfg: dict[str, Any]) -> None:
    """`--language`, else $PRESSEABGLEICH_LANGUAGE, else `[report] language`: for the log,
    the review messages and the report page alike."""
    import os

    chosen, where = _language_option, "--language"
    if chosen is None and os.environ.get(LANGUAGE_ENV, "").strip():
        chosen, where = os.environ[LANGUAGE_ENV].strip().lower(), LANGUAGE_ENV
    if chosen is None:
        chosen, where = str(cfg["report"]["language"]).strip().lower(), "[report] language"
    if chosen not in LANGUAGES:
        log(say("unknown_language", value=chosen, where=where))
        raise typer.Exit(1)
    cfg["report"]["language"] = chosen
    set_language(chosen)


def _config(
    config: Path | None,
    raw_dir: Path | None = None,
    processed_dir: Path | None = None,
    model: str | None = None,
    n_process: int | None = None,
    csv_dialect: str | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    try:
        cfg = load_config(
            config,
            {
                "paths": {
                    "raw_dir": str(raw_dir) if raw_dir else None,
                    "processed_dir": str(processed_dir) if processed_dir else None,
                },
                "model": {"name": model},
                "extract": {"n_process": n_process},
                "export": {"csv_dialect": csv_dialect},
                "engine": {"kind": engine, "scheduler": scheduler},
            },
        )
    except ConfigError as exc:
        log(say("error", detail=exc))
        raise typer.Exit(1) from exc
    _choose_language(cfg)
    return cfg


def _remove_stale_temporaries(cfg: dict[str, Any]) -> None:
    """Temporary files a killed run left behind (the finished files are intact): in the
    processed folder and its pages' folder, and beside the ID registry."""
    folder = Path(cfg["paths"]["processed_dir"])
    for leftover in [*folder.glob(".*.tmp"), *folder.glob("show/.*.tmp")]:
        leftover.unlink(missing_ok=True)
    registry = Path(cfg["paths"]["entity_ids_file"])
    if registry.parent.is_dir():
        for leftover in registry.parent.glob(f".{registry.name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def timed(stage: Callable[..., Any]) -> Callable[..., Any]:
    """Log how long a stage took (users see where time goes; the benchmark reads it)."""

    @functools.wraps(stage)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return stage(*args, **kwargs)
        finally:
            log(say("took", stage=stage.__name__.lstrip("_"), seconds=decimal(time.perf_counter() - started)))

    return wrapper


@timed
def _ingest(cfg: dict[str, Any]) -> int:
    from pipeline.ingest import ERRORS_FILE, run_ingest

    raw_dir = Path(cfg["paths"]["raw_dir"])
    processed_dir = Path(cfg["paths"]["processed_dir"])
    from pipeline.review.decisions import decisions_lock

    decisions_file = Path(cfg["paths"]["decisions_file"])
    # the registry's lock is a hidden file, which ingest never lists; the decisions' is not
    own_files = [Path(cfg["paths"]["entity_ids_file"]), decisions_file, decisions_lock(decisions_file)]
    try:
        reader = None
        if cfg["engine"]["kind"] == "dask":
            from pipeline.engine import file_reader

            reader = file_reader(cfg, log=log)
        result = run_ingest(raw_dir, processed_dir, cfg["ingest"], exclude=own_files, reader=reader)
    except FileNotFoundError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    for problem in result.problems:
        log(say("ingest.skipped", file=problem.file, problem=problem_name(problem.problem), detail=problem.detail))
    for note in result.notes:
        log(say("ingest.note", file=note.file, problem=problem_name(note.problem), detail=note.detail))
    log(
        say(
            "ingest.done",
            documents=result.kept,
            folder=raw_dir,
            reused=result.reused,
            skipped=len(result.problems),
            notes=len(result.notes),
        )
    )
    if result.problems or result.notes:
        log(say("ingest.listed", file=processed_dir / ERRORS_FILE))
    if not result.kept:
        log(say("ingest.nothing"))
        return 1
    return EXIT_PARTIAL if result.problems else 0


def no_model_message(model_config: dict[str, Any]) -> str | None:
    """The one message for a machine where no German model can be had (the model
    is not installed and the fallback's training data is not there), or None."""
    from pipeline.model import DATA_ENV, installed_model, ner_data_dir
    from pipeline.model_install import download_command

    name = model_config["name"]
    if name and installed_model(name) is not None:
        return None
    folder = ner_data_dir(model_config).resolve()
    if all((folder / file).is_file() for file in model_config["train_files"]):
        return None
    return say(
        "model.none",
        name=name or say("model.no_name"),
        files=", ".join(model_config["train_files"]),
        folder=folder,
        command=download_command(name or "de_core_news_sm"),
        env=DATA_ENV,
    )


def _require_raw_dir(cfg: dict[str, Any]) -> None:
    """Say at once when the input folder is not there, before the processed folder is made."""
    from pipeline.ingest import require_input_folder

    try:
        require_input_folder(Path(cfg["paths"]["raw_dir"]))
    except FileNotFoundError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc


def _require_model(model_config: dict[str, Any]) -> None:
    message = no_model_message(model_config)
    if message is not None:
        log(message)
        raise typer.Exit(1)


@timed
def _extract(cfg: dict[str, Any]) -> None:
    from pipeline.extract import MENTIONS_FILE, run_extract

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        counts, _ = run_extract(processed_dir, cfg, log=log)
    except FileNotFoundError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    summary = ", ".join(f"{label} {count}" for label, count in sorted(counts.items()))
    log(say("extract.done", mentions=sum(counts.values()), counts=summary, file=processed_dir / MENTIONS_FILE))


@timed
def _resolve(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from pipeline.resolve import ENTITIES_FILE, run_resolve
    from pipeline.review.decisions import DecisionsFileError
    from pipeline.review.state import CurationFilesMissing, check_curation_files, record_curation_files

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        check_curation_files(processed_dir, cfg)
        mapper = None
        if cfg["engine"]["kind"] == "dask":
            from pipeline.engine import batch_mapper

            mapper = batch_mapper(cfg, log=log)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        result = run_resolve(processed_dir, cfg, run_stamp=stamp, mapper=mapper, log=log)
        record_curation_files(processed_dir, cfg)
    except (FileNotFoundError, ValueError, DecisionsFileError, CurationFilesMissing) as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    entities = result["entities"]
    counts = entities["type"].value_counts().to_dict()
    log(
        say(
            "resolve.done",
            mentions=len(result["links"]),
            entities=len(entities),
            per=counts.get("PER", 0),
            loc=counts.get("LOC", 0),
            org=counts.get("ORG", 0),
            undecided=int((entities["canonical_status"] == "undecided").sum()),
            file=processed_dir / ENTITIES_FILE,
        )
    )
    for old, new in result["merged_ids"].items():
        log(say("resolve.merged", old=old, new=new))


@timed
def _export(cfg: dict[str, Any], background: bool = False) -> Any:
    """Returns the workbook job still running when `background` (see _workbook)."""
    from pipeline.export import DIALECTS, WorkbookNotWritten, run_export

    processed_dir = Path(cfg["paths"]["processed_dir"])
    if cfg["export"]["csv_dialect"] not in DIALECTS:
        log(say("export.unknown_dialect", dialect=cfg["export"]["csv_dialect"], choices=", ".join(DIALECTS)))
        raise typer.Exit(1)
    try:
        tables, workbook = run_export(processed_dir, cfg, log=log, background=background)
    except WorkbookNotWritten as exc:  # its writer said why
        raise typer.Exit(1) from exc
    except (FileNotFoundError, RuntimeError) as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    done = "export.done_xlsx" if cfg["export"]["write_xlsx"] else "export.done"
    log(say(done, tables=", ".join(tables), dialect=cfg["export"]["csv_dialect"], folder=processed_dir))
    return workbook


@timed
def _workbook(job: Any) -> None:
    """Wait for the workbook that `run` lets the export stage write in the background."""
    from pipeline.export import WorkbookNotWritten

    try:
        job.wait()
    except WorkbookNotWritten as exc:
        raise typer.Exit(1) from exc
    except RuntimeError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc


@timed
def _report(cfg: dict[str, Any]) -> None:
    from pipeline.resolve import DECISION_STATUS_FILE
    from pipeline.review.report import DISCREPANCIES_CSV, DISCREPANCIES_HTML, run_report
    from pipeline.show import SHOW_DIR

    processed_dir = Path(cfg["paths"]["processed_dir"])
    try:
        discrepancies, duplicates = run_report(processed_dir, cfg)
    except FileNotFoundError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    open_items = discrepancies[discrepancies["status"] == "open"]
    open_pairs = duplicates[duplicates["status"] != "decided"]
    log(
        say(
            "report.done",
            open=len(open_items),
            decided=len(discrepancies) - len(open_items),
            pairs=len(open_pairs),
            file=processed_dir / DISCREPANCIES_HTML,
        )
    )
    pages = processed_dir / SHOW_DIR
    log(say("report.show_pages", pages=len(list(pages.glob("*.html"))), folder=pages))
    limit = cfg["report"]["log_open_limit"]
    for row in open_items.head(limit).itertuples(index=False):
        log(f"        {row.kind:<16} {row.entity_id or '-':<13} {row.canonical_name}")
    if len(open_items) > limit:
        kinds = open_items["kind"].value_counts().to_dict()
        log(
            say(
                "report.more",
                more=len(open_items) - limit,
                kinds=", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())),
                file=processed_dir / DISCREPANCIES_CSV,
            )
        )
    import pandas as pd

    statuses = pd.read_parquet(processed_dir / DECISION_STATUS_FILE)
    for row in statuses[statuses["status"].isin(["stale", "invalid"])].itertuples(index=False):
        where = say("report.at_line", line=row.line) if row.line and row.status != "invalid" else ""
        log(
            say(
                "report.decision_problem",
                decision=row.decision_id or "?",
                action=row.action or "?",
                entity=row.entity_id,
                status=say(f"status.{row.status}"),
                where=where,
                detail=row.detail,
            )
        )


@contextlib.contextmanager
def _engine(cfg: dict[str, Any]) -> Iterator[None]:
    """The Dask cluster of this command when engine.kind is dask (started on first use,
    closed at the end, also on Ctrl-C); nothing with the local engine."""
    if cfg["engine"]["kind"] != "dask":
        yield
        return
    from pipeline.engine import EngineError, SchedulerUnreachable, dask_session

    try:
        with dask_session(cfg, log=log):
            yield
    except SchedulerUnreachable as exc:
        log(str(exc))  # the whole line, from the catalogue
        raise typer.Exit(1) from exc
    except EngineError as exc:
        log(say("error", detail=exc))
        raise typer.Exit(1) from exc


@app.command(epilog=example("ingest --raw-dir Pressemitteilungen", "ingest --engine dask --scheduler tcp://host:8786"))
def ingest(
    config: ConfigOption = None,
    raw_dir: RawOption = None,
    processed_dir: ProcessedOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Stage 1: read .txt/.md/.html press releases into documents.parquet."""
    cfg = _config(config, raw_dir, processed_dir, engine=engine, scheduler=scheduler)
    _require_raw_dir(cfg)
    with _stage_lock(cfg, creates_folder=True), _engine(cfg):
        code = _ingest(cfg)
    raise typer.Exit(code)


@app.command(epilog=example("extract --n-process 2", "extract --engine dask"))
def extract(
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    model: ModelOption = None,
    n_process: NProcessOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Stage 2: German NER plus rules over documents.parquet into mentions.parquet."""
    cfg = _config(config, None, processed_dir, model, n_process, engine=engine, scheduler=scheduler)
    _require_model(cfg["model"])
    with _stage_lock(cfg), _engine(cfg):
        _extract(cfg)


@app.command(epilog=example("resolve", "resolve --engine dask --scheduler tcp://host:8786"))
def resolve(
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Stage 3: merge variant names across documents into entities (entities.parquet)."""
    cfg = _config(config, None, processed_dir, engine=engine, scheduler=scheduler)
    with _stage_lock(cfg), _engine(cfg):
        _resolve(cfg)


@app.command(epilog=example("export --csv-dialect excel"))
def export(
    config: ConfigOption = None, processed_dir: ProcessedOption = None, csv_dialect: DialectOption = None
) -> None:
    """Stage 4: people/places/organisations/mentions as CSV (UTF-8 BOM) and one XLSX workbook."""
    cfg = _config(config, None, processed_dir, csv_dialect=csv_dialect)
    with _stage_lock(cfg):
        _export(cfg)


@app.command(epilog=example("report"))
def report(
    config: ConfigOption = None, processed_dir: ProcessedOption = None, csv_dialect: DialectOption = None
) -> None:
    """Stage 5: discrepancies for review (discrepancies.csv and a self-contained discrepancies.html)."""
    cfg = _config(config, None, processed_dir, csv_dialect=csv_dialect)
    with _stage_lock(cfg):
        _report(cfg)


@app.command(
    epilog=example(
        "run --raw-dir Pressemitteilungen --processed-dir Ergebnisse", "run --engine dask --scheduler tcp://host:8786"
    )
)
def run(
    config: ConfigOption = None,
    raw_dir: RawOption = None,
    processed_dir: ProcessedOption = None,
    model: ModelOption = None,
    n_process: NProcessOption = None,
    csv_dialect: DialectOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """All stages in order on the input folder."""
    from pipeline.review.state import CurationFilesMissing, check_curation_files

    cfg = _config(config, raw_dir, processed_dir, model, n_process, csv_dialect, engine, scheduler)
    _require_raw_dir(cfg)
    _require_model(cfg["model"])  # before any work: say at once when no model can be had
    with _processed_folder_lock(Path(cfg["paths"]["processed_dir"])):
        try:  # under the lock: a stage running beside us may be about to record them
            check_curation_files(Path(cfg["paths"]["processed_dir"]), cfg)
        except CurationFilesMissing as exc:
            log(_error(exc))
            raise typer.Exit(1) from exc
        _remove_stale_temporaries(cfg)
        with _engine(cfg):  # one cluster for all three stages
            code = _ingest(cfg)
            if code == 1:
                raise typer.Exit(1)
            _extract(cfg)
            _resolve(cfg)
        # the workbook is written while the report runs: it reads its review sheets
        # (the report's discrepancies among them) when it is waited for
        workbook = _export(cfg, background=True)
        try:
            _report(cfg)
        except BaseException:
            if workbook is not None:
                workbook.stop()
            raise
        if workbook is not None:
            _workbook(workbook)
    raise typer.Exit(code)


def _stage_lock(cfg: dict[str, Any], creates_folder: bool = False) -> contextlib.AbstractContextManager[None]:
    """A stage run alone takes the lock `run` takes, so it never writes beside a run or
    another stage on the same folder. Only ingest creates the folder; a later stage on a
    folder that is not there says its input is missing and leaves no empty folder behind."""
    folder = Path(cfg["paths"]["processed_dir"])
    return _processed_folder_lock(folder) if creates_folder or folder.is_dir() else contextlib.nullcontext()


@contextlib.contextmanager
def _processed_folder_lock(folder: Path) -> Iterator[None]:
    """One run at a time per processed folder: a second one waits (and says so) instead of
    mixing its outputs with the first one's."""
    from pipeline.io import waiting_lock

    folder.mkdir(parents=True, exist_ok=True)
    with waiting_lock(folder / ".presseabgleich.lock", lambda: log(say("waiting_for_run", folder=folder))):
        yield


@app.command(epilog=example("evaluate --gold-dir ../shared/seeds"))
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
        log(say("evaluate.nothing"))
        raise typer.Exit(1)
    results: dict[str, Any] = {}
    try:
        if gold_dir is not None:
            results.update(evaluate_run(folder, gold_dir))
        if germeval:
            missing = [str(p) for p in germeval if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"GermEval file(s) not found: {', '.join(missing)}")
            _require_model(cfg["model"])
            results["germeval"] = evaluate_germeval(cfg["model"], list(germeval))
    except (FileNotFoundError, ValueError) as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    table = write_results(results, folder)
    pivot = table.pivot_table(index=["section", "item"], columns="metric", values="value", sort=False)
    typer.echo(pivot.to_string(float_format=lambda v: f"{v:.3f}"))
    log(say("evaluate.done", csv=folder / "evaluation.csv", json=folder / "evaluation.json"))


review_app = typer.Typer(
    help="Record reviewer decisions (appended to the decisions file; see README).",
    no_args_is_help=True,
    epilog=example("review list", "review same P-1a2b3c4d5e P-6f7a8b9c0d", "review accept P-05da4133e3"),
)
app.add_typer(review_app, name="review")
ReviewerOption = Annotated[
    str | None, typer.Option("--reviewer", help="Who decides (default: your login name on this computer).")
]
NoteOption = Annotated[str, typer.Option("--note", help="Why, in a few words.")]


def _review_config(config: Path | None, processed_dir: Path | None) -> dict[str, Any]:
    """The configuration, with the decisions file of the run that made the outputs."""
    from pipeline.review.state import decisions_path

    cfg = _config(config, None, processed_dir)
    cfg["paths"]["decisions_file"] = str(decisions_path(Path(cfg["paths"]["processed_dir"]), cfg))
    return cfg


def login_name() -> str:
    """Who is at the keyboard: getpass looks at LOGNAME, USER, LNAME and USERNAME
    (Windows sets USERNAME, not USER) and then the password database; a machine
    with none of them (a container, a service account) gets "" rather than a crash."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def _record(cfg: dict[str, Any], reviewer: str | None, **fields: str) -> None:
    from pipeline.review.decisions import Decision, DecisionsFileError, append_decision, read_decisions

    path = Path(cfg["paths"]["decisions_file"])
    try:
        _, problems = read_decisions(path)
        decision = append_decision(path, Decision(decision_id="", reviewer=reviewer or login_name(), **fields))
    except (DecisionsFileError, OSError) as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    for problem in problems:
        log(say("review.file_problem", file=path, line=problem.line, problem=problem.problem))
    log(
        say(
            "review.recorded",
            decision=decision.decision_id,
            action=decision.action,
            entity=decision.entity_id,
            value=" " + decision.value if decision.value else "",
            file=path,
        )
    )


def _last_run(cfg: dict[str, Any], name: str):
    from pipeline.io import read_parquet

    try:
        return read_parquet(Path(cfg["paths"]["processed_dir"]) / name, "run")
    except FileNotFoundError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc


def _known_entity(cfg: dict[str, Any], entity_id: str):
    """The entity row for ENTITY_ID (or for the entity that absorbed it)."""
    import json

    from pipeline.resolve import ENTITIES_FILE

    entities = _last_run(cfg, ENTITIES_FILE)
    match = entities[entities["entity_id"] == entity_id]
    if match.empty:
        match = entities[[entity_id in json.loads(m) for m in entities["merged_ids"]]]
    if match.empty:
        log(say("review.no_entity", entity=entity_id))
        raise typer.Exit(1)
    return match.iloc[0]


@review_app.command("list", epilog=example("review list", "review list --all --processed-dir data/processed"))
def review_list(
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    all_items: Annotated[bool, typer.Option("--all", help="Also list decided items.")] = False,
) -> None:
    """Show the open discrepancies and possible duplicates of the last run, each with the command
    that decides it."""
    import json

    from pipeline.resolve import CANDIDATES_FILE
    from pipeline.review.report import DISCREPANCIES_FILE, NAME_KINDS, decision_commands

    cfg = _review_config(config, processed_dir)
    discrepancies = _last_run(cfg, DISCREPANCIES_FILE)
    duplicates = _last_run(cfg, CANDIDATES_FILE)
    if not all_items:
        discrepancies = discrepancies[discrepancies["status"] == "open"]
        duplicates = duplicates[duplicates["status"] != "decided"]
    typer.echo(say("review.summary", discrepancies=len(discrepancies), pairs=len(duplicates)))
    for row in discrepancies.itertuples(index=False):
        forms = json.loads(row.forms) if row.forms else []
        typer.echo(
            f"{row.discrepancy_id}  {say(f'review.status.{row.status}'):<11} {row.kind:<16} {row.entity_id or '-':<13} "
            f"{' | '.join(forms)}  → {row.suggested or say('review.undecided')}"
        )
        if row.entity_id and row.kind in NAME_KINDS and row.status == "open":
            for command, _ in decision_commands(
                "entity", entity_id=row.entity_id, suggested=row.suggested, forms=forms
            ):
                typer.echo(f"    {command}")
    for row in duplicates.itertuples(index=False):
        pair = say(
            "review.pair",
            a=row.entity_a,
            name_a=row.name_a,
            b=row.entity_b,
            name_b=row.name_b,
            score=decimal(row.score),
            rules=row.rules,
        )
        typer.echo(f"{row.pair_id}  {say(f'review.status.{row.status}'):<11} {pair}")
        if row.evidence:
            typer.echo(say("review.for", evidence=row.evidence))
        if row.against:
            typer.echo(say("review.against", evidence=row.against))
        if row.status != "decided":
            for command, _ in decision_commands("pair", entity_a=row.entity_a, entity_b=row.entity_b):
                typer.echo(f"    {command}")


@review_app.command("show", epilog=example("review show P-1a2b3c4d5e"))
def review_show(entity_id: str, config: ConfigOption = None, processed_dir: ProcessedOption = None) -> None:
    """Show an entity and every mention of it in its sentence."""
    from pipeline.resolve import MENTION_ENTITIES_FILE

    cfg = _review_config(config, processed_dir)
    entity = _known_entity(cfg, entity_id)
    links = _last_run(cfg, MENTION_ENTITIES_FILE)
    typer.echo(
        f"{entity['entity_id']} {entity['type']} {entity['canonical_name']} ({entity['canonical_status']}: "
        f"{entity['canonical_reason']})"
    )
    for row in links[links["entity_id"] == entity["entity_id"]].itertuples(index=False):
        sentence = row.sentence.replace(row.text, f"[{row.text}]", 1)
        typer.echo(f"  {row.doc_id}: {' '.join(sentence.split())}")


def _pair_decision(action: str, entity_id: str, other_id: str, config, processed_dir, reviewer, note) -> None:
    cfg = _review_config(config, processed_dir)
    first, second = _known_entity(cfg, entity_id), _known_entity(cfg, other_id)
    if first["entity_id"] == second["entity_id"] and action != "not-same":
        log(say("review.already_one", a=entity_id, b=other_id, entity=first["entity_id"]))
        raise typer.Exit(1)
    if first["type"] != second["type"] and action == "same":
        log(say("review.types_differ", a=entity_id, type_a=first["type"], b=other_id, type_b=second["type"]))
        raise typer.Exit(1)
    _record(cfg, reviewer, action=action, entity_id=entity_id, value=other_id, note=note)


def _pair_command(action: str, summary: str) -> Callable[..., None]:
    """A `review` command that records a judgement on a pair of entities."""

    def command(
        entity_id: str,
        other_id: str,
        config: ConfigOption = None,
        processed_dir: ProcessedOption = None,
        reviewer: ReviewerOption = None,
        note: NoteOption = "",
    ) -> None:
        _pair_decision(action, entity_id, other_id, config, processed_dir, reviewer, note)

    command.__doc__ = summary
    return command


for _name, _action, _summary, _example in (
    (
        "same",
        "same",
        "ENTITY_ID and OTHER_ID are one entity; ENTITY_ID's ID is kept, OTHER_ID stays an alias of it.",
        'review same P-1a2b3c4d5e P-6f7a8b9c0d --note "gleiche Person"',
    ),
    ("merge", "same", "Same as `review same`: merge OTHER_ID into ENTITY_ID.", "review merge L-aaaa L-bbbb"),
    (
        "not-same",
        "not-same",
        "ENTITY_ID and OTHER_ID are different entities: never merged, whatever the texts say.",
        'review not-same P-1a2b3c4d5e P-6f7a8b9c0d --note "Vater und Sohn"',
    ),
    (
        "unsure",
        "unsure",
        "Looked at the pair, cannot tell yet: it stays listed, marked unsure.",
        'review unsure P-1a2b3c4d5e P-6f7a8b9c0d --note "Pressestelle fragen"',
    ),
):
    review_app.command(_name, epilog=example(_example))(_pair_command(_action, _summary))


@review_app.command("accept", epilog=example('review accept P-05da4133e3 --note "Schreibweise bestätigt"'))
def review_accept(
    entity_id: str,
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """Accept the suggested canonical name of ENTITY_ID as it stands now."""
    cfg = _review_config(config, processed_dir)
    entity = _known_entity(cfg, entity_id)
    if entity["canonical_status"] == "undecided":
        log(say("review.no_suggestion", entity=entity_id))
        raise typer.Exit(1)
    _record(cfg, reviewer, action="accept", entity_id=entity_id, value=entity["canonical_name"], note=note)


@review_app.command(
    "rename", epilog=example('review rename P-92b9e8cf4c "David A. Lüngen" --note "Stadt Mülheim bestätigt"')
)
def review_rename(
    entity_id: str,
    name: str,
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """Set the canonical name of ENTITY_ID to NAME."""
    cfg = _review_config(config, processed_dir)
    _known_entity(cfg, entity_id)
    if not name.strip():
        log(say("review.empty_name"))
        raise typer.Exit(1)
    _record(cfg, reviewer, action="rename", entity_id=entity_id, value=name.strip(), note=note)


@review_app.command("retype", epilog=example("review retype O-1a2b3c4d5e LOC"))
def review_retype(
    entity_id: str,
    entity_type: Annotated[str, typer.Argument(metavar="TYPE", help="PER, LOC or ORG.")],
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """ENTITY_ID is of another type (PER, LOC, ORG); it keeps its ID."""
    cfg = _review_config(config, processed_dir)
    _known_entity(cfg, entity_id)
    if entity_type.upper() not in {"PER", "LOC", "ORG"}:
        log(say("review.bad_type"))
        raise typer.Exit(1)
    _record(cfg, reviewer, action="retype", entity_id=entity_id, value=entity_type.upper(), note=note)


@review_app.command("ignore", epilog=example("review ignore O-1a2b3c4d5e"))
def review_ignore(
    entity_id: str,
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """ENTITY_ID is no person, place or organisation: leave it out of the tables."""
    cfg = _review_config(config, processed_dir)
    _known_entity(cfg, entity_id)
    _record(cfg, reviewer, action="ignore", entity_id=entity_id, note=note)


@review_app.command(
    "split", epilog=example('review split P-0c818391c7 --mention "dortmund-2025-03-01: Thomas Schmidt"')
)
def review_split(
    entity_id: str,
    mention: Annotated[
        list[str], typer.Option("--mention", help="'doc_id: text' of a mention that is someone else (repeatable).")
    ],
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """Split mentions off ENTITY_ID: they name someone else (they get an ID of their own)."""
    cfg = _review_config(config, processed_dir)
    _known_entity(cfg, entity_id)
    if not mention or any(":" not in m for m in mention):
        log(say("review.bad_mention"))
        raise typer.Exit(1)
    _record(cfg, reviewer, action="split", entity_id=entity_id, mentions="; ".join(mention), note=note)


@review_app.command("undo", epilog=example("review undo 7"))
def review_undo(
    decision_id: str,
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    reviewer: ReviewerOption = None,
    note: NoteOption = "",
) -> None:
    """Retract decision DECISION_ID (appends a retraction; nothing is deleted)."""
    from pipeline.review.decisions import DecisionsFileError, read_decisions

    cfg = _review_config(config, processed_dir)
    path = Path(cfg["paths"]["decisions_file"])
    try:
        decisions, _ = read_decisions(path)
    except DecisionsFileError as exc:
        log(_error(exc))
        raise typer.Exit(1) from exc
    target = next((d for d in decisions if d.decision_id == decision_id), None)
    if target is None:
        log(say("review.no_decision", decision=decision_id, file=path))
        raise typer.Exit(1)
    _record(cfg, reviewer, action="undo", entity_id=target.entity_id, value=decision_id, note=note)


@app.command("train-model", epilog=example("train-model", "train-model --force"))
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
    _require_model(cfg["model"])
    if recipe is not None:
        cfg["model"]["recipe"] = recipe
    try:
        if force:
            shutil.rmtree(model_dir(cfg["model"]), ignore_errors=True)
        info = ensure_fallback_model(cfg["model"], log=log)
    except (FileNotFoundError, ValueError) as exc:
        log(_error(exc))
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


@app.command(epilog=example("show hagen-pressemitteilung-2025-01-30", "show meldung-7 --output meldung-7.html"))
def show(
    doc_id: Annotated[str, typer.Argument(help="The document's doc_id, as in mentions.csv (Dokument-ID).")],
    config: ConfigOption = None,
    processed_dir: ProcessedOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the page.", show_default="<processed-dir>/show/DOC.html"),
    ] = None,
) -> None:
    """Write an HTML page of one document with every mention highlighted and linked to its entity."""
    from pipeline.show import UnknownDocument, run_show

    cfg = _config(config, None, processed_dir)
    try:
        path, n_marks = run_show(Path(cfg["paths"]["processed_dir"]), doc_id, output)
    except (FileNotFoundError, UnknownDocument) as exc:
        log(say("error", detail=exc.args[0]) if isinstance(exc, UnknownDocument) else _error(exc))
        raise typer.Exit(1) from exc
    log(say("show.done", marks=n_marks, file=path))


@app.command("install-model", epilog=example("install-model", "install-model --time-limit 300"))
def install_model(
    config: ConfigOption = None,
    time_limit: Annotated[
        int, typer.Option("--time-limit", help="Give up after this many seconds (no internet must not hang a run).")
    ] = 120,
) -> None:
    """Install spaCy's German model (config: model.name) into this Python environment: the release wheel that `python -m spacy download de_core_news_sm` installs. Where it cannot be had, `run` trains and uses its own fallback model instead."""
    from pipeline.model_install import install_model as install

    cfg = _config(config)
    name = cfg["model"]["name"] or "de_core_news_sm"
    if not install(name, time_limit_s=time_limit, log=log):
        # one line only: `make run` goes on to `run`, which explains in full if no model can be had at all
        log(say("model.fallback_instead"))
        raise typer.Exit(1)


def main() -> None:
    from pipeline.io import OutputWriteError

    try:
        app()
    except KeyboardInterrupt:
        log(say("interrupted"))
        sys.exit(130)
    except OutputWriteError as exc:  # disk full, no permission: one line, not a traceback
        log(_error(exc))
        sys.exit(1)
    finally:
        # the work is done and the process ends: spare the cyclic collector its last
        # walk over every object still alive (0.8 s after a run over 10,000 documents)
        gc.freeze()


if __name__ == "__main__":
    main()
