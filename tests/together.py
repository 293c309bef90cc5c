"""Start several real processes and let them go at the same moment.

Each worker is `python -m <module> GO_FILE ARGS…`: it sets itself up, writes
`GO_FILE.ready-<pid>`, waits for GO_FILE to exist, does its work and prints one
JSON line. `run_together` returns those lines, parsed, in start order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_together(go: Path, workers: list[list[str]], timeout: float = 120) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", *argv[:1], str(go), *argv[1:]],
            cwd=go.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in workers
    ]
    deadline = time.monotonic() + timeout
    while len(list(go.parent.glob(f"{go.name}.ready-*"))) < len(procs):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            outs = [p.communicate(timeout=10) for p in procs]
            raise RuntimeError(f"a worker did not get ready: {outs}")
        time.sleep(0.02)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        if p.returncode != 0:
            raise RuntimeError(f"worker {p.args} exited {p.returncode}: {err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def ready_then_wait(go: Path) -> None:
    """In a worker: say it is ready, then wait for the go."""
    Path(f"{go}.ready-{os.getpid()}").touch()
    while not go.exists():
        time.sleep(0.002)
