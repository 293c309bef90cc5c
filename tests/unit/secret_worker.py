"""A process that reads (or first makes) the development link secret.

python -m tests.unit.secret_worker GO DATA_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.settings import LiveSettings, Settings
from tests.together import ready_then_wait

if __name__ == "__main__":
    go, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
    ready_then_wait(go)
    print(
        json.dumps(
            {
                "secret": Settings(live=LiveSettings(api_key=""), data_dir=data_dir)
                .link_secret()
                .decode()
            }
        )
    )
