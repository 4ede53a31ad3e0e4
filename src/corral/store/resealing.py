"""Sealing stored secrets again under the current key: at master start, and by a key rotation.

A value not sealed under the current key is either plain text (left by release 0.1.0)
or sealed under an older key; both are sealed under the current key. SQL finds the
rows holding such a value, so a pass over a database with nothing to do reads no rows.
A value that does not open is left as it is and reported: no key can open it.

A pass that changed rows then rewrites what held them, so that the files of the
database keep no earlier copy of a value (plain text, or sealed under a retired key):
SQLite is vacuumed and its write-ahead log emptied; on PostgreSQL the tables concerned
get a VACUUM FULL, which leaves no dead row versions in them.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)

from corral.db import models
from corral.sealing import KeyRing, SealError, is_sealed
from corral.store.secret_env import Owner, config_owner, job_owner, webhook_owner

PAGE = 500


@dataclass
class Resealed:
    """What a pass did: how many values it sealed, and what it could not open."""

    values: int = 0
    rows: int = 0
    tables: list[str] = field(default_factory=list)  # the tables it changed
    # One line per value left as it was: its owner, name and why.
    unopened: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _SecretColumn:
    """A table's secret_env column, its key, and who owns a row's secrets."""

    table: Table
    key: str
    owner: Callable[[Any], Owner]


COLUMNS = (
    _SecretColumn(models.worker_configs, "worker_id", config_owner),
    _SecretColumn(models.jobs, "id", job_owner),
    _SecretColumn(models.webhooks, "id", webhook_owner),
)


def _not_current(conn: Connection, column: Column[Any], prefix: str) -> ColumnElement[bool]:
    """Rows whose column holds a value that does not begin with ``prefix``."""
    each_fn = func.jsonb_each_text if conn.dialect.name == "postgresql" else func.json_each
    each = each_fn(column).table_valued("key", "value")
    other = func.substr(each.c.value, 1, len(prefix)) != prefix
    # Most rows hold no secret: comparing them whole is cheaper than walking them.
    empty = bindparam(None, {}, type_=column.type)
    return and_(column != empty, exists(select(literal(1)).select_from(each).where(other)))


def _pages(conn: Connection, col: _SecretColumn, prefix: str) -> Iterator[list[Any]]:
    """Pages of (key, secret_env) rows holding a value not sealed under the current key."""
    key, secret_env = col.table.c[col.key], col.table.c.secret_env
    query = (
        select(key, secret_env)
        .where(_not_current(conn, secret_env, prefix))
        .order_by(key)
        .limit(PAGE)
    )
    last: Any = None
    while True:
        rows = list(conn.execute(query if last is None else query.where(key > last)))
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = rows[-1][0]


def _reseal_env(ring: KeyRing, stored: dict[str, str], owner: Owner, done: Resealed) -> bool:
    """Seal under the current key, in place, each value that is not; True if any changed."""
    changed = False
    for name, value in stored.items():
        if ring.is_current(value):
            continue
        try:
            plain = ring.open(value, owner.context(name)) if is_sealed(value) else value
        except SealError as exc:
            done.unopened.append(f"{owner}: secret_env {name}: {exc}")
            continue
        stored[name] = ring.seal(plain, owner.context(name))
        done.values += 1
        changed = True
    return changed


def reseal(conn: Connection, ring: KeyRing) -> Resealed:
    """Seal under the current key every stored secret that is not, in the caller's transaction."""
    done = Resealed()
    for col in COLUMNS:
        table = col.table
        statement = (
            update(table)
            .where(table.c[col.key] == bindparam("_key"))
            .values(secret_env=bindparam("_env", type_=table.c.secret_env.type))
        )
        for rows in _pages(conn, col, ring.current_prefix()):
            changes = []
            for key, stored in rows:
                env = dict(stored)
                if _reseal_env(ring, env, col.owner(key), done):
                    changes.append({"_key": key, "_env": env})
            if changes:
                conn.execute(statement, changes)
                done.rows += len(changes)
                if table.name not in done.tables:
                    done.tables.append(table.name)
    return done


def reseal_all(engine: Engine, ring: KeyRing) -> Resealed:
    """``reseal`` in one transaction of its own, then rewrite the tables it changed."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Every row of a large table may change: the master's statement timeout is
            # for its own small queries.
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        done = reseal(conn, ring)
    if done.tables:
        scrub(engine, done.tables)
    return done


def scrub(engine: Engine, tables: list[str]) -> None:
    """Rewrite ``tables`` so that the database's files keep no earlier version of their rows."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name != "postgresql":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        conn.exec_driver_sql("SET statement_timeout = 0")
        try:
            for name in tables:
                conn.exec_driver_sql(f"VACUUM FULL {name}")
        finally:
            conn.exec_driver_sql("RESET statement_timeout")
