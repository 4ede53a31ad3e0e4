"""Sealing: what a sealed value carries, what opens it, and what does not."""

import base64

import pytest

from corral.sealing import DataKey, KeyRing, SealError, is_sealed

CONTEXT = "jobs/7/secret_env/API_KEY"


def test_a_sealed_value_names_its_key_and_opens_to_the_value() -> None:
    ring = KeyRing([DataKey.generate()])
    sealed = ring.seal("hunter2 é ✓", CONTEXT)
    assert sealed.startswith(f"sealed:1:{ring.current.key_id}:")
    assert "hunter2" not in sealed and is_sealed(sealed)
    assert ring.open(sealed, CONTEXT) == "hunter2 é ✓"
    assert ring.open(ring.seal("", CONTEXT), CONTEXT) == ""


def test_sealing_twice_gives_two_values() -> None:
    ring = KeyRing([DataKey.generate()])
    assert ring.seal("same", CONTEXT) != ring.seal("same", CONTEXT)


def test_the_last_key_seals_and_every_key_opens() -> None:
    old, new = DataKey.generate(), DataKey.generate()
    before = KeyRing([old]).seal("v", CONTEXT)
    both = KeyRing([old, new])
    after = both.seal("v", CONTEXT)
    assert after.startswith(f"sealed:1:{new.key_id}:") and both.is_current(after)
    assert not both.is_current(before)
    assert both.open(before, CONTEXT) == both.open(after, CONTEXT) == "v"


def test_a_value_sealed_for_one_place_does_not_open_in_another() -> None:
    ring = KeyRing([DataKey.generate()])
    sealed = ring.seal("v", CONTEXT)
    with pytest.raises(SealError, match="damaged or moved"):
        ring.open(sealed, "jobs/8/secret_env/API_KEY")


def test_a_value_of_a_key_not_held_names_that_key() -> None:
    gone = DataKey.generate()
    sealed = KeyRing([gone]).seal("v", CONTEXT)
    with pytest.raises(SealError, match=f"key {gone.key_id}, which is not in the data key file"):
        KeyRing([DataKey.generate()]).open(sealed, CONTEXT)


def test_a_relabelled_key_id_does_not_open() -> None:
    """The key id is authenticated: a value claiming another key fails even under that key."""
    first, second = DataKey.generate(), DataKey.generate()
    ring = KeyRing([first, second])
    sealed = KeyRing([first]).seal("v", CONTEXT)
    relabelled = sealed.replace(first.key_id, second.key_id, 1)
    with pytest.raises(SealError, match="damaged or moved"):
        ring.open(relabelled, CONTEXT)


@pytest.mark.parametrize("cut", ["flip", "short", "not base64"])
def test_damage_is_an_error_that_shows_nothing_of_the_value(cut: str) -> None:
    ring = KeyRing([DataKey.generate()])
    sealed = ring.seal("the-secret-value", CONTEXT)
    head, data = sealed.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    if cut == "flip":
        raw[-1] ^= 1
        damaged = head + ":" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    elif cut == "short":
        damaged = head + ":" + base64.urlsafe_b64encode(raw[:20]).rstrip(b"=").decode()
    else:
        damaged = head + ":" + data[:-1]  # one character off: not a whole base64 value
    with pytest.raises(SealError) as caught:
        ring.open(damaged, CONTEXT)
    assert "the-secret-value" not in str(caught.value)
    assert ring.current.key_id in str(caught.value)


def test_plain_text_is_not_taken_for_a_sealed_value() -> None:
    assert not is_sealed("fixture-secret")
    assert not is_sealed("sealed:1:xyz:abc")
    with pytest.raises(SealError, match="not a sealed value"):
        KeyRing([DataKey.generate()]).open("fixture-secret", CONTEXT)


def test_no_repr_shows_a_key() -> None:
    key = DataKey.generate()
    shown = repr(key) + repr(KeyRing([key]))
    assert key.key_id in shown
    assert key.material.hex() not in shown and str(key.material) not in shown


def test_new_key_ids_avoid_the_ones_taken() -> None:
    taken = {DataKey.generate().key_id for _ in range(50)}
    assert all(DataKey.generate(taken).key_id not in taken for _ in range(50))
