"""The README's "Adding a tool" walk-through works as written, lint included."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import tools

ROOT = Path(__file__).resolve().parents[2]
# Where the README tells the developer to put each block.
PLACES = ["tools/weather/__init__.py", "tests/weather/test_weather.py"]


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Adding a tool", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]  # un-indent the list items


async def test_adding_a_tool_walkthrough(tmp_path, monkeypatch):
    package_code, test_code = readme_blocks()
    (tmp_path / "weather").mkdir()
    (tmp_path / "weather" / "__init__.py").write_text(package_code)
    monkeypatch.setattr(tools, "__path__", [*tools.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "tools.weather", raising=False)
    namespace: dict = {}
    exec(compile(test_code, "README test", "exec"), namespace)
    await namespace["test_weather"](tmp_path / "state")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_the_walkthrough_passes_ruff(command):
    """`./livebot test` lints the files the README has you write: each block must pass."""
    ruff = Path(sys.executable).parent / "ruff"
    blocks = readme_blocks()
    assert len(blocks) == len(PLACES)
    for code, place in zip(blocks, PLACES, strict=True):
        config = ["--config", str(ROOT / "pyproject.toml")]
        done = subprocess.run(
            [str(ruff), *command, *config, "--stdin-filename", str(ROOT / place), "-"],
            input=code,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        print(place, command, done.returncode, done.stdout[-400:], done.stderr[-400:])
        assert done.returncode == 0, f"ruff {' '.join(command)} fails on {place}:\n{done.stdout}"
