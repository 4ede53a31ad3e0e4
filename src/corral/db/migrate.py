"""Bring a database to the newest schema with the migrations shipped inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py migrates this connection instead of opening its own.
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending revision, in one transaction; at head this changes nothing."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # A migration may rewrite a large table: the master's statement timeout is
            # for its own queries, not for this.
            conn.execute(text("SET LOCAL statement_timeout = 0"))
        command.upgrade(alembic_config(conn), "head")


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
