"""The house rules of the code, checked: module size, who may import whom, no tool by name.

These are what the README's Layout promises the next engineer: the product packages
(`bot/`, `tools/`) hold the product; the emulator, the headless caller and the test
helpers live beside them; the bot loops over toolsets and never names one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "tools")
MAX_LINES = 420  # "about 400": a module past this has more than one idea in it
OUTSIDE_PRODUCT = ("gemini_emulator", "caller", "testkit", "tests", "bench")


def _modules(*packages: str) -> list[Path]:
    return sorted(
        p
        for pkg in packages
        for p in (ROOT / pkg).rglob("*.py")
        if "web" not in p.relative_to(ROOT).parts[:2]
    )


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_no_product_module_is_longer_than_about_400_lines() -> None:
    long = {
        _rel(p): n for p in _modules(*PRODUCT) if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by idea (at most ~400 lines each): {long}"


def test_tools_import_nothing_from_the_bot() -> None:
    offenders = {
        _rel(p): sorted(m for m in _imports(p) if m == "bot" or m.startswith("bot."))
        for p in _modules("tools")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_product_imports_no_test_helper_or_client() -> None:
    # The offline echo mode runs the emulator; `./livebot call` hands over to the caller.
    allowed = {
        ("bot/offline.py", "gemini_emulator"),
        ("bot/__main__.py", "gemini_emulator"),  # serve --rehearse: the emulator plays a script
        ("bot/__main__.py", "caller"),
    }
    offenders = []
    for p in _modules(*PRODUCT):
        for m in _imports(p):
            top = m.split(".")[0]
            if top in OUTSIDE_PRODUCT and (_rel(p), top) not in allowed:
                offenders.append(f"{_rel(p)} imports {m}")
    assert offenders == []


def test_the_bot_names_no_tool_package() -> None:
    pattern = re.compile(r"tools\.(calendar|lights|clock)")
    hits = [
        f"{_rel(p)}:{i}: {line.strip()}"
        for p in _modules("bot")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == [], "the bot loops over toolsets; it must not name one"


def _layout_paths() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    firsts = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    return [p.strip("/") for cell in firsts for p in re.findall(r"`([^`]+)`", cell)]


def _layout_entries() -> tuple[set[str], list[str]]:
    """The Layout's paths as repository paths (a bare ``decorator.py`` after
    ``tools/api.py`` is ``tools/decorator.py``), and those that do not exist."""
    found: set[str] = set()
    missing: list[str] = []
    last_dir = ROOT
    for path in _layout_paths():
        candidate = ROOT / path
        if not candidate.exists() and "/" not in path:
            candidate = last_dir / path
        if not candidate.exists():
            missing.append(path)
            continue
        found.add(str(candidate.relative_to(ROOT)))
        last_dir = candidate.parent if candidate.is_file() else candidate
    return found, missing


def test_every_path_in_the_readme_layout_exists() -> None:
    assert _layout_entries()[1] == []


def test_the_layout_lists_every_package_and_every_module_on_the_two_flows() -> None:
    listed = _layout_entries()[0]
    packages = {
        p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"
    }
    unlisted_packages = {
        p for p in packages if not any(x == p or x.startswith(p + "/") for x in listed)
    }
    readme = (ROOT / "README.md").read_text()
    flow = readme.split("## How a call works\n", 1)[1].split("\n## ", 1)[0]
    on_flows = set(re.findall(r"\b((?:bot|tools)/[\w/]+\.py)", flow))
    unlisted_modules = {
        m for m in on_flows if m not in listed and str(Path(m).parent) not in listed
    }
    assert (unlisted_packages, unlisted_modules) == (set(), set())
    assert all((ROOT / m).exists() for m in on_flows), on_flows
