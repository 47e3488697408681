from pathlib import Path

import pytest

from pipeline.config import ConfigError, default_config, load_config


def test_defaults_document_every_stage():
    cfg = default_config()
    assert {"paths", "ingest", "model", "extract"} <= set(cfg)
    assert cfg["model"]["name"] == "de_core_news_sm"


def test_user_file_overrides_and_flags_win(tmp_path: Path):
    user = tmp_path / "my.toml"
    user.write_text('[paths]\nraw_dir = "elsewhere"\n[ingest]\nmax_file_mb = 1\n', encoding="utf-8")
    cfg = load_config(user, {"paths": {"raw_dir": "from-flag", "processed_dir": None}})
    assert cfg["paths"]["raw_dir"] == "from-flag"
    assert cfg["ingest"]["max_file_mb"] == 1
    assert cfg["paths"]["processed_dir"] == default_config()["paths"]["processed_dir"]


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path):
    user = tmp_path / "typo.toml"
    user.write_text("[ingest]\nmax_file_gb = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_file_gb"):
        load_config(user)


def test_broken_toml_names_the_file(tmp_path: Path):
    user = tmp_path / "broken.toml"
    user.write_text("[paths\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_config(user)
