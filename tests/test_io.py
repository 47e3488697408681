"""Outputs on a shared drive: permissions follow the umask, symbolic links are written through."""

import os
import stat
import sys

import pytest

from pipeline.io import write_text_atomic

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@posix_only
@pytest.mark.parametrize(("umask", "mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_atomic_write_gives_the_file_the_umask_permissions(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "people.csv", "a;b\r\n")
        write_text_atomic(tmp_path / "people.csv", "a;b\r\n1;2\r\n")  # replacing keeps them too
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "people.csv").stat().st_mode) == mode
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_symlinked_output_is_written_through_and_stays_a_link(tmp_path):
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
    write_text_atomic(link, "new\n")
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "new\n"
    assert not list(link.parent.glob(".*.tmp")) and not list(shared.glob(".*.tmp"))
