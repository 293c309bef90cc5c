"""A room's caller places, shared by every process on the data directory.

`max_callers` is per room, but each bot process only counts its own calls: two
instances on one data directory (deploy/compose.two-bots.yml) would each let
`max_callers` callers in. So a room of N places has N lock files,
`<data dir>/room-slots/<room>.<i>.lock`, and a call holds an exclusive `flock`
on one of them from its offer until it ends. A free place is one whose lock
can be taken at once; the kernel lets go of a crashed process's places, so
nothing goes stale and there is no heartbeat to keep.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from loguru import logger


class Slot:
    """One held place in a room; `release()` (idempotent) gives it back."""

    def __init__(self, fd: int | None, name: str):
        self._fd: int | None = fd
        self.name = name

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


class RoomSlots:
    def __init__(self, directory: Path):
        self.directory = directory

    def take(self, room: str, places: int) -> Slot | None:
        """A free place in `room` (of `places`), held until released; None if all are taken.
        If the lock files cannot be made (a read-only data directory), only this process's
        own count limits the room: that is logged, and a placeholder place is returned."""
        for i in range(places):
            name = f"{room}.{i}.lock"
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.directory / name, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                logger.error(f"room places in {self.directory} unavailable ({e}): per process only")
                return Slot(None, name)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except OSError as e:
                os.close(fd)
                logger.error(f"cannot lock {self.directory / name} ({e}): per process only")
                return Slot(None, name)
            return Slot(fd, name)
        logger.info(f"room {room}: all {places} places are taken (by any instance)")
        return None

    def free(self, room: str, places: int) -> bool:
        """Whether a place is free right now (a hint for joining; the offer takes it)."""
        slot = self.take(room, places)
        if slot is None:
            return False
        slot.release()
        return True
