"""Data files several processes share: atomic writes and a cross-process lock.

- `write_atomically`: a crash leaves the old file or the new one, never half of
  either. A symlinked data file is written through to its target (the link
  stays a link) and an existing file keeps its mode.
- `locked`: an exclusive `flock` on a lock file beside the data file, so two
  processes on one data directory (deploy/compose.two-bots.yml) can each
  re-read, change and write the file without losing the other's change. The
  stores do read-merge-write inside it; readers need no lock (renames are atomic).

The standard library has the pieces (`os.replace`, `fcntl.flock`) but no helper
that keeps links and modes, hence this module.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path


class DataFileError(Exception):
    """A data file that cannot be used; the message names the file and what is wrong
    (one line, for the log and for start-up errors)."""


def target_of(path: Path) -> Path:
    """The file a write to `path` must replace: the symlink's target, if it is one."""
    return path.resolve() if path.is_symlink() else path


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path` (beside its target if `path` is a
    symlink), fsync it, give it the old file's mode, rename it over the file, and fsync
    the directory so the rename itself survives a power cut. New files are 0600."""
    target = target_of(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def lock_path(path: Path) -> Path:
    """The lock file of a data file: `.<name>.lock` beside its target."""
    target = target_of(path)
    return target.parent / f".{target.name}.lock"


def _open_lock(path: Path) -> int:
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise DataFileError(f"cannot lock {path} (lock file {lock}): {e.strerror or e}") from e


@asynccontextmanager
async def locked_async(path: Path, poll: float = 0.01) -> AsyncIterator[None]:
    """`locked`, for holding across awaits: waits without blocking the event loop (and
    without a thread that a cancellation would leave holding the lock)."""
    fd = _open_lock(path)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(poll)
        yield
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive cross-process lock of the data file `path` (blocking);
    `DataFileError` if the lock file cannot be made (e.g. a read-only directory).

    `flock` locks belong to the open file description, so two threads of one
    process exclude each other too; the lock goes when the holder dies.
    """
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
