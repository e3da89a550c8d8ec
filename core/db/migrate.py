"""Upgrade the database to the newest Alembic revision (the app does this at start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    return cfg


def upgrade_to_head(settings: Settings) -> None:
    settings.ensure_dirs()
    command.upgrade(alembic_config(settings), "head")


def downgrade_to_base(settings: Settings) -> None:
    command.downgrade(alembic_config(settings), "base")
