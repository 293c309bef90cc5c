"""Build tool packages as a third party would ship them, and install them with uv.

Each sample is a real project (pyproject.toml with a `livebot.tools` entry point,
`src/` layout) built by uv's own build backend (`uv_build`, which uv runs in-process:
nothing is downloaded) and installed with `uv pip install --target` into a directory
that the test puts on `sys.path` / `PYTHONPATH`, so `importlib.metadata` finds it as
it finds any installed distribution.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SamplePackage:
    """A distribution named `dist` whose import package is `module` (with `code`)."""

    dist: str
    module: str
    code: str
    entry_points: dict[str, str] = field(default_factory=dict)  # name -> "module[:attr]"
    version: str = "0.1.0"

    def write(self, root: Path) -> Path:
        project = root / self.dist
        (project / "src" / self.module).mkdir(parents=True)
        (project / "src" / self.module / "__init__.py").write_text(textwrap.dedent(self.code))
        eps = "\n".join(f'{name} = "{value}"' for name, value in self.entry_points.items())
        (project / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""\
                [project]
                name = "{self.dist}"
                version = "{self.version}"
                requires-python = ">=3.11"

                [project.entry-points."livebot.tools"]
                """
            )
            + eps
            + textwrap.dedent(
                """

                [build-system]
                requires = ["uv_build>=0.8"]
                build-backend = "uv_build"

                [tool.uv.build-backend]
                module-name = "{module}"
                """
            ).replace("{module}", self.module)
        )
        return project


def find_uv() -> str:
    """The uv that `./livebot setup` bootstrapped (or one on PATH)."""
    candidates = [
        os.environ.get("LIVEBOT_UV"),
        shutil.which("uv"),
        str(ROOT / ".tools" / "bin" / "uv"),
        str(ROOT / ".tools" / "pip" / "bin" / "uv"),
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise AssertionError("uv not found (LIVEBOT_UV, PATH, .tools/): run ./livebot setup")


def install(packages: list[SamplePackage], tmp: Path) -> Path:
    """Build and install `packages` into `tmp/site`; return that directory."""
    sources = tmp / "src"
    site = tmp / "site"
    projects = [str(p.write(sources)) for p in packages]
    done = subprocess.run(
        [
            *(find_uv(), "pip", "install", "--offline", "--no-cache", "--quiet"),
            *("--python", sys.executable, "--target", str(site), *projects),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    assert done.returncode == 0, done.stderr
    return site


WEATHER_CODE = """\
    import json

    from tools.api import tool
    from tools.toolset import Toolset


    def toolset(ctx):
        calls = ctx.data_dir / "calls.jsonl"

        @tool()
        async def get_weather(city: str) -> dict:
            \"\"\"The current weather in a city.\"\"\"
            with calls.open("a") as f:
                f.write(json.dumps({"city": city}) + "\\n")
            return {"city": city, "temperature": 21, "unit": "celsius"}

        return Toolset(name="weather", tools=[get_weather], description="Acme's weather")
"""


def weather_package(entry_point: str = "acme_weather") -> SamplePackage:
    """A weather toolset as a third party would ship it; it logs each call's arguments."""
    return SamplePackage(
        "acme-weather", "acme_weather", WEATHER_CODE, entry_points={"weather": entry_point}
    )
