"""Tool packages installed from outside the repository (entry-point group `livebot.tools`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from testkit.tools import call_like_the_model
from tests.tools.packaging import SamplePackage, install, weather_package
from tools.toolset import ToolSettingsError, available_packages, load_toolsets, registry_of

ROOT = Path(__file__).resolve().parents[2]
UTC = ZoneInfo("UTC")
SAMPLE_MODULES = ("acme_weather", "acme_clock", "acme_broken", "acme_dupe", "acme_time")


@pytest.fixture
def fresh_modules(monkeypatch):
    """Each test imports its own build of the sample packages."""
    for name in SAMPLE_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in SAMPLE_MODULES:
        sys.modules.pop(name, None)


def _cli(args: list[str], site: Path, tmp: Path, tools: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_", "TOOLS"))}
    env.update(TOOLS=tools, LIVEBOT_DATA_DIR=str(tmp / "data"), PYTHONPATH=f"{ROOT}:{site}")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=tmp, env=env, capture_output=True, text=True
    )


async def test_an_installed_package_is_listed_enabled_and_called(
    tmp_path, monkeypatch, fresh_modules
):
    started = time.monotonic()
    site = install([weather_package()], tmp_path)
    print(f"built and installed acme-weather in {time.monotonic() - started:.2f} s")

    # `./livebot tools`, as a separate process that sees the package on its path.
    listed = _cli(["tools"], site, tmp_path, "clock,weather")
    assert listed.returncode == 0, listed.stderr
    assert (
        "weather: Acme's weather, from acme-weather 0.1.0 (entry point weather = acme_weather)"
        in listed.stdout
    )
    assert "\n  get_weather: NON_BLOCKING, result " in listed.stdout
    declared = json.loads(_cli(["tools", "--json"], site, tmp_path, "weather").stdout)
    names = [d["name"] for group in declared for d in group.get("functionDeclarations", [])]
    assert names == ["get_weather"]

    # In this process: found like a built-in, and a call through the Live stage runs it.
    monkeypatch.syspath_prepend(str(site))
    assert {"clock", "weather"} <= set(available_packages())
    sets = load_toolsets(["clock", "weather"], {}, tmp_path / "tools", UTC)
    call = await call_like_the_model(registry_of(sets), "get_weather", {"city": "Oslo"})
    assert call.ok and call.response == {"city": "Oslo", "temperature": 21, "unit": "celsius"}
    logged = (tmp_path / "tools" / "weather" / "calls.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in logged] == [{"city": "Oslo"}]


def test_clashes_and_broken_entry_points_are_start_up_errors_naming_the_package(
    tmp_path, monkeypatch, fresh_modules
):
    clock_code = """\
        from tools.api import tool
        from tools.toolset import Toolset


        def toolset(ctx):
            @tool()
            async def current_time() -> dict:
                \"\"\"A second clock.\"\"\"
                return {}

            return Toolset(name="acme-time", tools=[current_time])
    """
    site = install(
        [
            weather_package(),
            # Named like a built-in package.
            SamplePackage("acme-clock", "acme_clock", clock_code, {"clock": "acme_clock"}),
            # An entry point whose module does not import, and one at a missing function.
            SamplePackage(
                "acme-broken",
                "acme_broken",
                "import acme_not_installed\n",
                {"broken": "acme_broken", "nofunc": "acme_weather:no_such_function"},
            ),
            # Two distributions claiming one name.
            SamplePackage("acme-dupe", "acme_dupe", "def toolset(ctx): ...\n", {"weather": "x"}),
        ],
        tmp_path / "first",
    )
    # A package of its own name whose tool is named like the built-in clock's.
    other = install(
        [SamplePackage("acme-time", "acme_time", clock_code, {"acmetime": "acme_time"})],
        tmp_path / "second",
    )
    with monkeypatch.context() as m:
        m.syspath_prepend(str(other))
        assert "acmetime" in available_packages()
        with pytest.raises(ToolSettingsError) as e:
            load_toolsets(["clock", "acmetime"], {}, tmp_path / "tools", UTC)
        said = "\n".join(e.value.problems)
        assert "tool 'current_time' is offered by both 'clock' and 'acmetime'" in said
        assert "acme-time 0.1.0" in said

    monkeypatch.syspath_prepend(str(site))
    assert "weather" not in available_packages(), "an ambiguous name is never picked"

    def problems(names: list[str]) -> str:
        with pytest.raises(ToolSettingsError) as e:
            load_toolsets(names, {}, tmp_path / "tools", UTC)
        return "\n".join(e.value.problems)

    said = problems(["clock"])
    assert "acme-clock 0.1.0 (entry point clock = acme_clock)" in said
    assert "built-in package of that name" in said
    said = problems(["weather"])
    assert "acme-weather 0.1.0" in said and "acme-dupe 0.1.0" in said
    said = problems(["broken"])
    assert "'broken' from acme-broken 0.1.0 (entry point broken = acme_broken)" in said
    assert "cannot be imported: ModuleNotFoundError: No module named 'acme_not_installed'" in said
    said = problems(["nofunc"])
    assert "acme-broken 0.1.0 (entry point nofunc = acme_weather:no_such_function)" in said
    # Every problem at once, in the order TOOLS names them.
    assert len(problems(["clock", "broken", "weather"]).splitlines()) == 3

    # The bot refuses to start and says why.
    refused = _cli(["tools"], site, tmp_path, "clock,broken")
    assert refused.returncode == 2
    assert "No module named 'acme_not_installed'" in refused.stderr
    assert "acme-broken 0.1.0" in refused.stderr
    print(refused.stderr)
