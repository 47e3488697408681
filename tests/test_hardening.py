"""Bad and hostile input: fuzzing, odd names, huge files, determinism."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.gazetteers import load_gazetteers
from pipeline.ingest import SkipFile, html_to_text, ingest_files, markdown_to_text, read_document
from pipeline.normalize import normalize_org, normalize_place, parse_person, repair_encoding
from tests.conftest import REPO, write_run_config

INGEST = load_config()["ingest"]
GAZ = load_gazetteers()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
markup = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<b>",
                "<br>",
                "<script>",
                "</div>",
                "<!--",
                "-->",
                "&amp;",
                "&#xFFFF;",
                "# ",
                "**",
                "[a](b)",
                "\n\n",
                "<a href='x'>",
            ]
        ),
    ),
    max_size=40,
).map("".join)


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_ingest_never_crashes_on_arbitrary_bytes(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"f{suffix}"
    path.write_bytes(data)
    try:
        document = read_document(path, folder, INGEST)
    except SkipFile as skip:
        assert skip.problem in {"empty", "binary", "undecodable", "unparseable", "too large"}
        return
    assert document.text.strip()


@FUZZ
@given(markup)
def test_markup_parsers_are_total_and_map_offsets_inside_the_source(text):
    for parse in (html_to_text, markdown_to_text):
        plain, segments, _ = parse(text)
        for segment in segments:
            assert 0 <= segment.source_start <= len(text)
            assert segment.text_start + segment.length <= len(plain)


@FUZZ
@given(st.text(max_size=60))
def test_normalisation_never_raises(text):
    repair_encoding(text)
    parse_person(text, GAZ)
    normalize_place(text, GAZ)
    normalize_org(text, GAZ)


def test_file_names_with_spaces_umlauts_and_shell_characters(tmp_path):
    names = ["Presse Mitteilung Ä ö ß.txt", "a;b&c|d $(echo x) `id`.md", "quote'\"name.html", "-leading-dash.txt"]
    for i, name in enumerate(names):
        (tmp_path / name).write_text(f"Die Stadt Witten meldet Nummer {i}.", encoding="utf-8")
    result = ingest_files(tmp_path, INGEST)
    assert result.problems == []
    assert sorted(d.doc_id for d in result.documents) == sorted(Path(n).stem.replace("|", "¦") for n in names)


def _ingest_peak_mb(raw: Path, out: Path) -> tuple[int, int]:
    code = (
        "import resource; from typer.testing import CliRunner; from pipeline.cli import app; "
        f"r = CliRunner().invoke(app, ['ingest', '--raw-dir', {str(raw)!r}, '--processed-dir', {str(out)!r}]); "
        "print(r.exit_code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    exit_code, peak_mb = map(int, result.stdout.split())
    return exit_code, peak_mb


def test_huge_single_line_file_does_not_exhaust_memory(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "ok.txt").write_text("Die Stadt Witten informiert.", encoding="utf-8")
    baseline_code, baseline_mb = _ingest_peak_mb(raw, tmp_path / "base")
    with open(raw / "huge.txt", "wb") as handle:
        for _ in range(100):
            handle.write(b"x" * (1024 * 1024))
    exit_code, peak_mb = _ingest_peak_mb(raw, tmp_path / "out")
    assert (baseline_code, exit_code) == (0, 3)
    assert peak_mb - baseline_mb < 50, f"peak {peak_mb} MB vs {baseline_mb} MB without the 100 MB file"
    errors = pd.read_csv(tmp_path / "out" / "ingest_errors.csv")
    assert errors["problem"].tolist() == ["too large"]


@pytest.mark.slow
def test_long_documents_are_processed_in_chunks(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    paragraph = (REPO / "data" / "raw" / "herne-fachtag-2025-01-22.txt").read_text(encoding="utf-8")
    (raw / "long.txt").write_text("\n\n".join([paragraph] * 12), encoding="utf-8")
    config = write_run_config(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(f'raw_dir = "{REPO / "data" / "raw"}"', f'raw_dir = "{raw}"')
        + "[extract]\nmax_chunk_chars = 5000\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    mentions = pd.read_parquet(tmp_path / "processed" / "mentions.parquet")
    source = (raw / "long.txt").read_text(encoding="utf-8")
    assert mentions["mention_id"].is_unique
    assert (mentions["text"] == "Andreas Merkendorf").sum() == 12
    for row in mentions.itertuples():
        assert source[row.source_start : row.source_end] == row.text


@pytest.mark.slow
def test_same_input_gives_byte_identical_csv_outputs(tmp_path):
    outputs = []
    for run in ("one", "two"):
        folder = tmp_path / run
        folder.mkdir()
        result = CliRunner().invoke(app, ["run", "--config", str(write_run_config(folder))])
        assert result.exit_code == 0, result.output
        outputs.append({p.name: p.read_bytes() for p in sorted((folder / "processed").glob("*.csv"))})
    assert set(outputs[0]) >= {"people.csv", "places.csv", "organisations.csv", "mentions.csv", "discrepancies.csv"}
    assert outputs[0] == outputs[1]
