"""Errors the command line reports as one plain sentence (exit code 2), without a traceback."""


class UsageError(Exception):
    """A problem with what the user asked for."""
