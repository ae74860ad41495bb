"""The run folder's error and the refusals every file operation of it shares: a
file-system failure, a damaged results file, a member that is a symbolic link."""

from __future__ import annotations

import errno
from pathlib import Path

from ..language.errors import UsageError


class RunFolderError(UsageError):
    """A run folder that cannot be used: damaged, foreign or newer, locked by another run,
    or a file-system failure (exit code 2; nothing is rewritten)."""


def fs_error(what: str, path, exc: OSError) -> RunFolderError:
    """The refusal for a file-system failure ``exc`` while doing ``what`` to ``path``."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.EFBIG:
        reason += " (a file-size limit: `ulimit -f`?)"
    return RunFolderError(f"cannot {what} {path}: {reason}")


DAMAGED = "nothing was changed; use --fresh to discard it, or --out for another folder"


def refuse(path, why: str) -> RunFolderError:
    """The refusal for the results file ``path``, damaged or foreign in the way ``why`` says."""
    return RunFolderError(f"{path} is not a usable results file: {why}; {DAMAGED}")


def no_link(path: Path) -> None:
    """Refuse a run folder's member that is a symbolic link: writing through it (or
    sweeping temp files in it) would change files outside the run folder."""
    if path.is_symlink():
        raise RunFolderError(f"{path} is a symbolic link; a run folder's files must be its "
                             f"own (remove the link); {DAMAGED}")
