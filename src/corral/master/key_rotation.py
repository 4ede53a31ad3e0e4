"""Rotating the data key while no master runs: a new key, every secret sealed again, old keys out.

The steps keep every value readable whatever point a crash stops them at: the new key
is written beside the old ones first; one transaction then seals every stored secret
under it; only after that commit are the old keys removed from the file. Values name
their key, so a master started after a crash opens each under the key it names (and
seals the stragglers under the newest at its start), and running the rotation again
simply finishes the job under yet another key.
"""

import os
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.errors import MasterStartError
from corral.master.data_key import load_ring, write_ring
from corral.master.database import short_error
from corral.master.single_master import claim_stopped
from corral.sealing import DataKey
from corral.settings import MasterSettings
from corral.store.resealing import Resealed, reseal_all


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    key_id: str  # the new key, now the only one
    retired: list[str]  # the ids of the keys it replaced
    resealed: Resealed


def rotate(settings: MasterSettings) -> Rotation:
    """Seal every stored secret under a new data key and retire the others.

    Raises AnotherMasterError while a master (or another rotation) holds the data
    folder or the database, and MasterStartError when there is no data folder.
    """
    data_dir = settings.data_dir
    if not data_dir.is_dir():
        raise MasterStartError(f"no data folder at {data_dir.resolve()}")
    with claim_stopped(settings, f"corral keys rotate, pid {os.getpid()}"):
        old = load_ring(data_dir)
        new = DataKey.generate(taken=[k.key_id for k in old.keys])
        ring = write_ring(data_dir, [*old.keys, new])
        engine = make_engine(settings.db_url)
        try:
            upgrade(engine)
            resealed = reseal_all(engine, ring)
        except SQLAlchemyError as exc:
            reason = short_error(exc)
            raise MasterStartError(f"cannot seal the stored secrets again: {reason}") from None
        finally:
            engine.dispose()
        write_ring(data_dir, [new])
    return Rotation(new.key_id, [k.key_id for k in old.keys], resealed)
