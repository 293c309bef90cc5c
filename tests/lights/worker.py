"""A process that switches lights on in a shared lights file (tests/lights/test_processes.py).

python -m tests.lights.worker GO DATA_DIR NAME [NAME…]
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger

from tests.together import ready_then_wait
from tools.lights import toolset
from tools.toolset import ToolContext


async def main(go: Path, data_dir: Path, names: list[str]) -> None:
    ts = toolset(ToolContext(env={}, data_dir=data_dir, timezone=ZoneInfo("UTC")))
    assert ts.start is not None
    await ts.start()
    tools = {t.name: t for t in ts.tools}
    ready_then_wait(go)
    done = 0
    for name in names:
        out = await tools["set_light"].invoke({"name": name, "on": True})
        done += bool(out.ok)
    listed = await tools["list_lights"].invoke({})
    on = sorted(x["name"] for x in listed.response["lights"] if x["on"])
    print(json.dumps({"switched": done, "on_as_seen_here": on}))


if __name__ == "__main__":
    logger.remove()
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
