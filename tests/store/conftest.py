"""A migrated, empty database on each backend, for the store tests."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.sealing import DataKey, KeyRing
from corral.store.writes import Writes, apply_writes


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ring() -> KeyRing:
    """A ring of one fresh key, as a master has after its first start."""
    return KeyRing([DataKey.generate()])


def apply(engine: Engine, writes: Writes) -> None:
    """Write a batch in a transaction of its own, as the master's writer does."""
    with engine.begin() as conn:
        apply_writes(conn, writes)
