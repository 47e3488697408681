"""Outputs on a shared drive: permissions follow the umask, symbolic links are written through."""

import os
import stat
import sys

import pytest

from pipeline.io import OutputWriteError, write_small_texts_atomic, write_text_atomic


def write_page(target, text):
    """The writer of the document pages, for one file."""
    write_small_texts_atomic([(target, text)])


WRITERS = pytest.mark.parametrize("write", [write_text_atomic, write_page], ids=["one file", "small files"])
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@posix_only
@WRITERS
@pytest.mark.parametrize(("umask", "mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_atomic_write_gives_the_file_the_umask_permissions(tmp_path, umask, mode, write):
    previous = os.umask(umask)
    try:
        write(tmp_path / "people.csv", "a;b\r\n")
        write(tmp_path / "people.csv", "a;b\r\n1;2\r\n")  # replacing keeps them too
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "people.csv").stat().st_mode) == mode
    assert not list(tmp_path.glob(".*.tmp"))


@WRITERS
def test_a_symlinked_output_is_written_through_and_stays_a_link(tmp_path, write):
    shared = tmp_path / "shared-drive"
    shared.mkdir()
    real = shared / "entity_ids.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "data" / "entity_ids.csv"
    link.parent.mkdir()
    try:
        link.symlink_to(real)
    except OSError:
        pytest.skip("this system does not allow symbolic links")
    write(link, "new\n")
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "new\n"
    assert not list(link.parent.glob(".*.tmp")) and not list(shared.glob(".*.tmp"))


def test_small_files_are_whole_and_a_failed_one_leaves_the_others_and_no_temporary(tmp_path):
    pages = tmp_path / "show"
    pages.mkdir()
    (pages / "b.html").write_text("alt", encoding="utf-8")
    (pages / "blocked").mkdir()  # a folder where a page should go: it cannot be replaced
    texts = {"a.html": "<p>ä</p>" * 5000, "b.html": "<p>neu</p>", "blocked": "x", "c.html": "<p>c</p>"}
    with pytest.raises(OutputWriteError, match="blocked"):
        write_small_texts_atomic((pages / name, text) for name, text in texts.items())
    assert (pages / "a.html").read_text(encoding="utf-8") == texts["a.html"]
    assert (pages / "b.html").read_text(encoding="utf-8") == "<p>neu</p>"
    assert (pages / "blocked").is_dir() and not (pages / "c.html").exists()  # stops at the first failure
    assert not [p.name for p in pages.iterdir() if p.name.endswith(".tmp")]


def test_parts_read_back_as_one_table_and_a_failing_source_leaves_the_old_file(tmp_path):
    import pandas as pd

    from pipeline.io import write_parquet_atomic, write_parquet_parts_atomic

    parts = [pd.DataFrame({"doc_id": [f"d{i}"] * i, "start": list(range(i))}) for i in (3, 1, 4)]
    target = tmp_path / "table.parquet"
    empty = parts[0].iloc[:0]
    assert write_parquet_parts_atomic(target, iter(parts), empty) == 8
    assert pd.read_parquet(target).equals(pd.concat(parts, ignore_index=True))
    assert write_parquet_parts_atomic(target, iter(()), empty) == 0
    back = pd.read_parquet(target)
    assert back.empty and list(back.columns) == ["doc_id", "start"]

    write_parquet_atomic(target, parts[0])
    before = target.read_bytes()

    def source_that_fails():
        yield parts[1]
        raise FileNotFoundError("documents.parquet vanished")

    # the source's own error, not one of writing the target
    with pytest.raises(FileNotFoundError, match="vanished") as raised:
        write_parquet_parts_atomic(target, source_that_fails(), empty)
    assert not isinstance(raised.value, OutputWriteError)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]  # no temporary left

    # the writer fails (a part of another schema): the source is closed at once
    closed = []

    def source_of_two_schemas():
        try:
            yield parts[0]
            yield parts[0].assign(start=parts[0]["start"].astype(str))
            yield parts[1]
        finally:
            closed.append(True)

    with pytest.raises(ValueError, match="schema") as raised:
        write_parquet_parts_atomic(target, source_of_two_schemas(), empty)
    assert closed == [True], raised  # closed while its traceback (the writer's frame) still lives
    assert target.read_bytes() == before


TEXT_VALUES = ["Dudda", "", "Lüngen", "NRW", "1"]


def _text_column(tmp_path, cells):
    import pandas as pd

    pd.DataFrame({"entity_id": pd.Series(cells, dtype=object)}).to_parquet(tmp_path / "t.parquet")
    return pd.read_parquet(tmp_path / "t.parquet")["entity_id"]  # as the stages read it


@pytest.mark.parametrize("seed", range(40))
def test_is_in_answers_what_pandas_isin_answers_on_text_read_back_from_parquet(tmp_path, seed, monkeypatch):
    """is_in takes pyarrow's faster path for Arrow-backed text; the answer is pandas' own,
    missing values, values of other types and filtered columns included."""
    import random

    import numpy as np
    import pandas as pd

    from pipeline.io import is_in

    by_pandas = []
    isin = pd.Series.isin
    monkeypatch.setattr(pd.Series, "isin", lambda self, v: by_pandas.append(1) or isin(self, v))
    rng = random.Random(seed)
    cells = [rng.choice(TEXT_VALUES)] + [rng.choice([*TEXT_VALUES, None]) for _ in range(rng.randint(0, 25))]
    column = _text_column(tmp_path, cells)
    assert isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"
    values = rng.sample([*TEXT_VALUES, "Dortmund", None, np.nan, 1], rng.randint(0, 6))
    filtered = column[column.index % 2 == 0]  # as the call sites pass them: a filtered frame's column
    for part in (column, filtered, column.iloc[:0]):
        for given in (values, {v for v in values if v is not np.nan}, pd.Series(values, dtype=object)):
            expected = part.isin(given)
            by_pandas.clear()
            found = is_in(part, given)
            assert by_pandas == []  # pyarrow's path, not pandas'
            assert found.dtype == bool and found.name == part.name
            assert found.tolist() == expected.tolist() and found.index.equals(part.index)
        assert (
            is_in(part, dict.fromkeys(v for v in values if v is not np.nan)).tolist()
            == part.isin(dict.fromkeys(v for v in values if v is not np.nan)).tolist()
        )
    plain = column.astype(object)  # not Arrow-backed: pandas' isin itself
    assert is_in(plain, values).tolist() == plain.isin(values).tolist()


def test_is_in_on_a_column_of_missing_values_and_with_a_string_for_values(tmp_path):
    import pandas as pd

    from pipeline.io import is_in

    empty = _text_column(tmp_path, ["Dudda", None, None])[1:]  # only missing values left
    assert is_in(empty, ["Dudda"]).tolist() == [False, False]
    assert is_in(empty, ["Dudda", None]).tolist() == empty.isin(["Dudda", None]).tolist() == [True, True]
    with pytest.raises(TypeError):
        is_in(_text_column(tmp_path, ["Dudda"]), "Dudda")  # as pandas: values must be a collection
    assert pd.api.types.is_bool_dtype(is_in(empty, []))
