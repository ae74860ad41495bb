"""One writer at a time in a run folder: ``RunLock`` (an exclusive ``flock`` on
``FOLDER/.lock``) and ``locked``, the block form that nests within one process."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path

from .errors import RunFolderError, fs_error, no_link


class RunLock:
    """One writer at a time in a run folder: an exclusive ``flock`` on ``FOLDER/.lock``,
    held while a run, a re-analysis, a figure or export write lasts. The kernel releases it
    when the process ends, however it ends, so a lock of a dead process is never in the way
    (the next writer takes it). The file holds the holder's pid, host and start time, for
    the message a second writer gets. It is opened without following a symbolic link (a
    planted ``.lock`` link is refused, its target never truncated)."""

    NAME = ".lock"

    def __init__(self, path: Path, fh):
        self.path, self._fh = path, fh

    @classmethod
    def acquire(cls, folder: Path, what: str = "run") -> "RunLock":
        import fcntl

        folder = Path(folder)
        path = folder / cls.NAME
        no_link(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            fh = open(fd, "r+", encoding="utf-8", errors="replace")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                no_link(path)
            raise fs_error("lock the run folder", folder, exc) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read(500).strip()
            fh.close()
            raise RunFolderError(
                f"{folder} is in use by another run ({_holder(holder)}); wait for it to "
                f"finish, or use --out for another folder; nothing was changed by this {what}"
            ) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))
            fh.flush()
        except OSError:
            pass  # the lock holds without its note
        return cls(path, fh)

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.seek(0)
                self._fh.truncate()
            self._fh.close()  # closing drops the flock
            self._fh = None


def _holder(note: str) -> str:
    try:
        info = json.loads(note)
        return f"process {info['pid']} on {info['host']}, started {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


_HELD: set[str] = set()  # run folders (real paths) this process holds through ``locked``


@contextlib.contextmanager
def locked(folder, what: str):
    """The run folder ``folder`` locked for one writer (``RunLock``) while the block runs
    (``what`` names the writer in the message another writer gets: ``re-analysis``); a
    block inside another ``locked`` block of the same folder keeps the outer lock."""
    key = os.path.realpath(folder)
    if key in _HELD:
        yield None
        return
    lock = RunLock.acquire(Path(folder), what)
    _HELD.add(key)
    try:
        yield lock
    finally:
        _HELD.discard(key)
        lock.release()
