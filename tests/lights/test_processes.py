"""Finding 7: two processes on one lights file each switch lights on; the file keeps
every change, and each process sees the other's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.together import run_together

pytestmark = pytest.mark.timeout(120)

FIRST = ["kitchen ceiling", "kitchen counter", "bedroom lamp"]
SECOND = ["living room ceiling", "living room floor lamp", "hallway"]


@pytest.mark.parametrize("round_", range(3))
def test_each_of_two_processes_switches_lights_on_and_all_stay_on(tmp_path: Path, round_: int):
    data = tmp_path / "lights"
    data.mkdir()
    results = run_together(
        tmp_path / "go",
        [["tests.lights.worker", str(data), *FIRST], ["tests.lights.worker", str(data), *SECOND]],
    )
    saved = json.loads((data / "lights.json").read_text())["lights"]
    on = sorted(x["name"] for x in saved if x["on"])
    print(f"round {round_}: {len(on)} of 6 lights on in the file; seen: {results}")
    assert [r["switched"] for r in results] == [3, 3]
    assert on == sorted(FIRST + SECOND)
    # The process that finished last saw everything; each saw at least its own.
    assert any(r["on_as_seen_here"] == on for r in results)
    for names, r in zip((FIRST, SECOND), results, strict=True):
        assert set(names) <= set(r["on_as_seen_here"])
