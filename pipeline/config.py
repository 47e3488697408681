"""Configuration: packaged defaults from config.toml, merged with user files and flags."""

from __future__ import annotations

import tomllib
from copy import deepcopy
from importlib import resources
from pathlib import Path
from typing import Any

LOCAL_CONFIG_NAME = "presseabgleich.toml"


class ConfigError(ValueError):
    """A configuration file or key the pipeline cannot use."""


def default_config() -> dict[str, Any]:
    text = resources.files("pipeline").joinpath("config.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    merged = deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a table")
            merged[key] = _merge(base[key], value, f"{where}.{key}")
        else:
            merged[key] = value
    return merged


ENGINE_KINDS = ("local", "dask")


def _check(config: dict[str, Any]) -> dict[str, Any]:
    """Settings with a closed set of values, checked at once rather than deep inside a stage."""
    engine = config["engine"]
    if engine["kind"] not in ENGINE_KINDS:
        raise ConfigError(f"engine.kind: {engine['kind']!r} is not one of {', '.join(ENGINE_KINDS)}")
    if not isinstance(engine["scheduler"], str):
        raise ConfigError("engine.scheduler: must be a text (an address like tcp://host:8786, or empty)")
    return config


def load_config(path: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Defaults, then `path` (or ./presseabgleich.toml if present), then `overrides`.

    Unknown keys are an error so that a typo never silently falls back to a default.
    """
    config = default_config()
    if path is None and Path(LOCAL_CONFIG_NAME).is_file():
        path = Path(LOCAL_CONFIG_NAME)
    if path is not None:
        try:
            user = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
        config = _merge(config, user, str(path))
    if overrides:
        cleaned = {section: {k: v for k, v in values.items() if v is not None} for section, values in overrides.items()}
        config = _merge(config, cleaned, "command line")
    return _check(config)
