"""What the subcommands share about refusing input: the exception and the exit code."""

from __future__ import annotations

EXIT_BAD_INPUT = 2


class UsageError(ValueError):
    """Input the command refuses; the message is a sentence for the person at the terminal."""
