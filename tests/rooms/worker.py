"""A process that creates rooms in a shared rooms.json (tests/rooms/test_processes.py).

python -m tests.rooms.worker GO ROOMS_FILE PREFIX COUNT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.rooms import RoomStore
from tests.together import ready_then_wait

if __name__ == "__main__":
    go, path, prefix, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = RoomStore(path)
    ready_then_wait(go)
    for i in range(count):
        store.update(f"{prefix}-{i}", title=f"{prefix} {i}")
    print(json.dumps({"updated": count}))
