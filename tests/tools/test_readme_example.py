"""The README's "Adding a tool" walk-through works as written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tools

ROOT = Path(__file__).resolve().parents[2]


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
