"""File output shared by all stages: every write is atomic (temp file, fsync, rename).

A crash or Ctrl-C mid-write therefore leaves the previous version of a file intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, writer: Callable[[IO[Any]], None], mode: str = "w", **open_kwargs: Any) -> None:
    with atomic_path(target) as tmp, open(tmp, mode, **open_kwargs) as handle:
        writer(handle)


def write_text_atomic(target: Path, text: str) -> None:
    write_atomic(target, lambda h: h.write(text), encoding="utf-8", newline="")


def write_json_atomic(target: Path, data: Any) -> None:
    write_text_atomic(target, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def write_parquet_atomic(target: Path, frame: pd.DataFrame) -> None:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


def read_parquet(path: Path, stage_hint: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m pipeline {stage_hint}` first")
    frame = pd.read_parquet(path)
    # pandas 3 reads text as Arrow-backed strings; the stages walk their values one
    # by one, which is several times faster over plain Python strings.
    return frame.astype({c: object for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert (OWASP: leading apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def code_key(settings: Any, files: Iterable[str], folders: Iterable[str] = ()) -> str:
    """Hash of `settings` and of the named files and folders of the pipeline package:
    what decides a stage's output, so that a later run knows which results it may reuse."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    package = resources.files("pipeline")
    for name in files:
        digest.update(package.joinpath(name).read_bytes())
    for folder in folders:
        for item in sorted(package.joinpath(folder).iterdir(), key=lambda p: p.name):
            digest.update(item.read_bytes())
    return digest.hexdigest()
