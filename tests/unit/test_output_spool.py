"""The output spool: what the worker read, kept on disk until the master has stored it."""

from pathlib import Path

from corral.output_spool import Spool, clear_spool, read_spool


def test_the_master_reads_from_the_offset_it_stored(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(7, 2, "stdout", "héllo ".encode())
    spool.write(7, 2, "stdout", b"world\n")
    spool.write(7, 2, "stderr", b"oops\n")
    assert read_spool(tmp_path / "spool", 7, 2, "stdout", 0) == "héllo world\n".encode()
    assert read_spool(tmp_path / "spool", 7, 2, "stdout", 7) == b"world\n"
    assert read_spool(tmp_path / "spool", 7, 2, "stderr", 5) == b""
    assert read_spool(tmp_path / "spool", 7, 1, "stdout", 0) == b"", "another attempt"


def test_an_acknowledged_attempt_leaves_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(1, 1, "stdout", b"x")
    spool.write(2, 1, "stdout", b"y")
    spool.done(1, 1)
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["2-1.stdout"]
    clear_spool(tmp_path / "spool")
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_spool_the_disk_refused_is_given_up_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(1, 1, "stdout", b"first")
    (tmp_path / "spool" / "1-1.stderr").mkdir()  # a write there fails, even as root
    spool.write(1, 1, "stderr", b"lost")
    spool.write(1, 1, "stdout", b"second")
    assert read_spool(tmp_path / "spool", 1, 1, "stdout", 0) == b"", "a gap is no use"
