"""Run the real `python -m bot` command line against a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testkit.bot import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_"))}
    env.pop("SSL_CERT_FILE", None)
    env.update(
        {
            "LIVEBOT_DATA_DIR": str(data_dir),
            "LIVEBOT_SECRET": TEST_SECRET,
            "PYTHONPATH": str(ROOT),
            "TOOLS": "clock",
            **extra,
        }
    )
    return env


def room_cli(data_dir: Path, *args: str) -> subprocess.Popen:
    """`livebot room ARGS…` as its own process (cwd outside the repo: no .env)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "room", *args],
        cwd=data_dir.parent,
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_room_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = room_cli(data_dir, *args)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
