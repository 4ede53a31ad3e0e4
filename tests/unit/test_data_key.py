"""The data key file: created once, closed to others, replaced whole, refused when damaged."""

import stat
from pathlib import Path

import pytest

from corral.master.data_key import DataKeyError, data_key_path, load_ring, write_ring
from corral.sealing import DataKey


def test_the_first_load_creates_one_key_that_only_its_owner_reads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ring = load_ring(data)
    path = data_key_path(data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.keys) == 1
    again = load_ring(data)
    assert again.keys == ring.keys, "a second start reads the same key"
    assert sorted(p.name for p in data.iterdir()) == ["data.key"], "no temporary file is left"


def test_a_written_ring_reads_back_with_its_last_key_current(tmp_path: Path) -> None:
    keys = [DataKey.generate(), DataKey.generate()]
    write_ring(tmp_path, keys)
    ring = load_ring(tmp_path)
    assert ring.keys == tuple(keys) and ring.current == keys[-1]
    assert stat.S_IMODE(data_key_path(tmp_path).stat().st_mode) == 0o600
    write_ring(tmp_path, keys[1:])
    assert load_ring(tmp_path).keys == (keys[1],)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.key"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("0123abcd", "expected '<8 hex digits> <key>'"),
        ("NOTHEX!! AAAA", "expected '<8 hex digits> <key>'"),
        ("0123abcd c2hvcnQ=", "the key is not 32 bytes long"),
        ("0123abcd %%%%", "not 32 bytes long|not base64"),
    ],
)
def test_a_damaged_file_is_refused_without_showing_a_key(
    tmp_path: Path, line: str, why: str
) -> None:
    good = DataKey.generate()
    write_ring(tmp_path, [good])
    path = data_key_path(tmp_path)
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(DataKeyError, match=why) as caught:
        load_ring(tmp_path)
    assert f"{path} line 4" in str(caught.value)
    assert path.read_text().splitlines()[2].split()[1] not in str(caught.value)


def test_a_file_without_keys_or_with_one_twice_is_refused(tmp_path: Path) -> None:
    path = data_key_path(tmp_path)
    path.write_text("# nothing here\n")
    with pytest.raises(DataKeyError, match="holds no key"):
        load_ring(tmp_path)
    key = DataKey.generate()
    write_ring(tmp_path, [key, key])
    with pytest.raises(DataKeyError, match=f"key {key.key_id} appears twice"):
        load_ring(tmp_path)
