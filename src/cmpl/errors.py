"""The one error family for problems a user can fix (a config value, an annotation line, a file): ``cmpl``
prints such an error as one ``error:`` line; anything else is a bug and surfaces as a traceback. It imports
nothing of the package, so every layer may raise it."""

from __future__ import annotations

__all__ = [
    "BadValueError",
    "CheckpointError",
    "MissingFileError",
    "RunFolderError",
    "TrainingStopped",
    "UserError",
]


class UserError(Exception):
    """A problem the user can fix; the message alone says what and where, without a traceback."""


class RunFolderError(UserError):
    """The output folder cannot take this run: it holds another one, another process uses it, or it is not
    writable."""


class CheckpointError(UserError):
    """A checkpoint that cannot be written, or one that is refused when read."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (or a run folder should hold) is not there."""


class BadValueError(UserError, ValueError):
    """A value given outside a config (a command-line option, a dataset's contents) that cannot work."""


class TrainingStopped(Exception):
    """Not an error: training stopped on request (SIGTERM, SIGINT) after writing a checkpoint."""
