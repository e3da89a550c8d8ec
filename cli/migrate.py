"""`pokegan migrate [upgrade|downgrade]`: move the database schema to the newest (or no) revision."""

from __future__ import annotations

import argparse

from core.db.migrate import downgrade_to_base, upgrade_to_head
from core.settings import Settings


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("migrate", help="upgrade (default) or downgrade the database schema")
    parser.add_argument("direction", nargs="?", choices=("upgrade", "downgrade"), default="upgrade")
    parser.add_argument("--yes", action="store_true", help="confirm a downgrade (it drops every table)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.direction == "upgrade":
        upgrade_to_head(settings)
        print(f"pokegan: database at the newest schema ({_where(settings)})")
        return 0
    if not args.yes:
        print("pokegan: a downgrade drops every table and all data in them; repeat with --yes to do it")
        return 2
    downgrade_to_base(settings)
    print(f"pokegan: database downgraded to an empty schema ({_where(settings)})")
    return 0


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)
