"""The installed-model path, with a twin of de_core_news_sm built from its published config."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import write_run_config

pytestmark = pytest.mark.slow


def test_the_pipeline_runs_end_to_end_with_the_installed_model(de_core_news_sm_twin, tmp_path):
    # a separate process: with the twin on this process's path, every later test would see it installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(de_core_news_sm_twin), os.environ.get("PYTHONPATH", "")])}
    env["PRESSEABGLEICH_NER_DATA"] = str(tmp_path / "no-training-data")  # the fallback is out of reach
    config = write_run_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "processed" / "run_info.json").read_text(encoding="utf-8"))["model"]
    assert info["name"] == "de_core_news_sm" and info["kind"] == "installed" and info["version"] == "3.7.0"
    # everything but ner excluded, the fast senter on instead of the parser
    from pipeline.extract import RULE_COMPONENTS

    assert info["components"] == ["senter", "ner", *RULE_COMPONENTS]
    assert info["path"].startswith(str(de_core_news_sm_twin))
    # the only warning is spaCy's note that the 3.7 model meets spaCy 3.8
    warnings = re.findall(r"(\w+Warning): \[(\w+)\]", result.stderr)
    assert warnings and {code for _, code in warnings} == {"W095"}, result.stderr
    assert (tmp_path / "processed" / "people.csv").is_file() and (
        tmp_path / "processed" / "presseabgleich.xlsx"
    ).is_file()


def test_the_twin_has_the_published_components_and_labels(de_core_news_sm_twin):
    code = (
        "import json, spacy\n"
        "nlp = spacy.load('de_core_news_sm')\n"
        "print(json.dumps({'components': nlp.component_names, 'disabled': nlp.disabled,"
        " 'ner': sorted(nlp.get_pipe('ner').labels), 'parser': len(nlp.get_pipe('parser').labels)}))"
    )
    env = {**os.environ, "PYTHONPATH": str(de_core_news_sm_twin)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    meta = json.loads((de_core_news_sm_twin / "de_core_news_sm" / "meta.json").read_text(encoding="utf-8"))
    assert loaded["components"] == meta["components"]
    assert loaded["disabled"] == ["senter"]
    assert loaded["ner"] == ["LOC", "MISC", "ORG", "PER"] and loaded["parser"] == len(meta["labels"]["parser"])
