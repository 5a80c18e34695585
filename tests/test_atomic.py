"""Writes through a temporary file and a rename: a failed write leaves the old file as it was."""
import pytest

from tsjt_basicts.atomic import write_atomically, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "leaderboard.md", "old")

    def half_then_fail(partial):
        partial.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]
    assert write_text(path, "new").read_text() == "new"
