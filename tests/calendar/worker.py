"""A process that books events in a shared calendar (for tests/calendar/test_processes.py).

python -m tests.calendar.worker GO DATA_DIR FIRST_HOUR COUNT
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from loguru import logger

from tests.calendar.helpers import PARIS, at, call
from tests.together import ready_then_wait
from tools.calendar import toolset
from tools.toolset import ToolContext


async def main(go: Path, data_dir: Path, first_hour: int, count: int) -> None:
    ts = toolset(ToolContext(env={}, data_dir=data_dir, timezone=PARIS))
    ready_then_wait(go)
    created = 0
    for i in range(count):  # one event per hour, on days of their own: no conflicts
        out = await call(
            ts, "create_event", title=f"P{first_hour}-{i}", start=at(first_hour, days=i)
        )
        created += bool(out.ok and "created" in out.response)
    print(json.dumps({"created": created}))


if __name__ == "__main__":
    logger.remove()
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
