"""Subcommands of the `pokegan` CLI; each module has add_parser(subparsers) and a handler."""
