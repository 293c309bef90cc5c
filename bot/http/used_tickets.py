"""Which call tickets have made a call, shared by every process on the data directory.

A ticket is single-use, but each bot process only knows its own calls: two
instances behind one proxy (deploy/compose.two-bots.yml) would each accept the
same ticket once. So the first offer of a ticket claims its nonce in
`<data dir>/tickets-used.json`, read-merge-write under the file's cross-process
lock (`tools.files.locked`); a second claim, from any process, is refused.
Entries are dropped once their ticket has expired, so the file stays small.

This is the one-host file form of the shared state the design names; several
hosts would need the same two calls on Redis.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from loguru import logger

from tools.files import DataFileError, locked, write_atomically


class UsedTickets:
    def __init__(self, path: Path):
        self.path = path

    def claim(self, nonce: str, expires_at: int) -> bool:
        """True if this ticket had not been used by any process (and now is). If the file
        cannot be used (a read-only data directory), that is logged and only this process's
        own binding keeps the ticket single-use."""
        try:
            return self._claim(nonce, expires_at)
        except DataFileError as e:
            logger.error(f"used tickets: {e}; single-use is per process only")
            return True

    def _claim(self, nonce: str, expires_at: int) -> bool:
        with locked(self.path):
            used = self._read()
            now = time.time()
            used = {k: v for k, v in used.items() if isinstance(v, int | float) and v > now}
            if nonce in used:
                return False
            used[nonce] = int(expires_at)
            try:
                write_atomically(self.path, json.dumps(used).encode())
            except OSError as e:
                raise DataFileError(f"cannot write {self.path}: {e.strerror or e}") from e
            return True

    def release(self, nonce: str) -> None:
        """Give a claimed ticket back (its offer failed before it made a call)."""
        try:
            self._release(nonce)
        except DataFileError as e:
            logger.error(f"used tickets: {e}")

    def _release(self, nonce: str) -> None:
        with locked(self.path):
            used = self._read()
            if used.pop(nonce, None) is not None:
                try:
                    write_atomically(self.path, json.dumps(used).encode())
                except OSError as e:
                    logger.error(f"cannot write {self.path}: {e}")

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            # Only tickets that are still valid are lost with it: minutes of them.
            logger.error(f"used tickets file {self.path} unreadable ({e}): starting it again")
            return {}
        return data if isinstance(data, dict) else {}
