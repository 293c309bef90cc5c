"""What a fresh machine needs for the tests is installed by the project, and a failing
test is always reported readably (scripts/fresh-machine.sh runs the whole of it on a
minimal Debian root; these checks keep its findings true on every machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SITE = Path(pytest.__file__).resolve().parents[1]

# Every program the test command and the tests start, and where it comes from.
PROGRAMS = {
    "Playwright's bundled node": SITE / "playwright" / "driver" / "node",
    "chromium": Path("/usr/lib/chromium/chromium"),
    "turnserver (coturn)": shutil.which("turnserver"),
    "caddy": shutil.which("caddy"),
    "mosquitto": shutil.which("mosquitto") or "/usr/sbin/mosquitto",
    "espeak-ng": shutil.which("espeak-ng"),
    "sox": shutil.which("sox"),
    "node": shutil.which("node"),
    "hadolint": VENV_BIN / "hadolint",
    "docker-compose": VENV_BIN / "docker-compose",
    "py-spy": VENV_BIN / "py-spy",
}


def test_every_program_the_tests_run_finds_its_shared_libraries():
    """A library that a bundled binary loads but no package pulls in (libatomic1 for
    Playwright's node) breaks every browser test on a fresh machine: ldd tells first."""
    missing_programs, missing_libs = [], {}
    for name, path in PROGRAMS.items():
        if not path or not Path(path).exists():
            missing_programs.append(name)
            continue
        out = subprocess.run(["ldd", os.fspath(path)], capture_output=True, text=True)
        if "not a dynamic executable" in out.stdout + out.stderr:
            continue  # static: needs nothing
        assert out.returncode == 0, f"ldd {path}: {out.stderr}"
        libs = [ln.split()[0] for ln in out.stdout.splitlines() if "not found" in ln]
        if libs:
            missing_libs[name] = libs
    assert not missing_programs, f"not installed: {missing_programs} (./livebot test installs them)"
    assert not missing_libs, (
        f"shared libraries not found: {missing_libs}; add the Debian package that ships them "
        "to scripts/test-packages.txt"
    )


def test_the_test_package_list_names_what_the_tests_use():
    names = (ROOT / "scripts" / "test-packages.txt").read_text()
    for package in ("espeak-ng", "sox", "mosquitto", "chromium", "coturn", "caddy", "libatomic1"):
        assert f"\n{package} " in names, package


# A failure whose report pytest formats from the source of another module (a chained
# exception): that is where the race turned reports into INTERNALERRORs.
FAILING_TEST = """
import ast, json

def test_fails():
    ast.race_armed = True  # from here on every ast.parse meets the race (see RUNNER)
    try:
        json.loads("{")
    except ValueError as e:
        raise RuntimeError("the failure a developer must be able to read") from e
"""

# pytest in a child whose ast.parse, once armed, fails as CPython's gh-106905 race makes
# it fail (each parse twice, then it succeeds), with or without the project's plugin.
RUNNER = """
import ast, sys
real, failures = ast.parse, [0]
ast.race_armed = False
def racy(*a, **k):
    if ast.race_armed and failures[0] < 2:
        failures[0] += 1
        raise SystemError("AST constructor recursion depth mismatch (before=15, after=2)")
    failures[0] = 0
    return real(*a, **k)
ast.parse = racy
if sys.argv[1] == "with-plugin":
    from tests import readable_failures
    readable_failures.install(force=True)
import pytest
sys.exit(pytest.main([sys.argv[2], "-p", "no:cacheprovider", "-q"]))
"""


def _run_racy(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_racy.py"
    test.write_text(textwrap.dedent(FAILING_TEST))
    return subprocess.run(
        [sys.executable, "-c", RUNNER, mode, str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_failure_is_reported_readably_even_when_ast_parse_races(tmp_path):
    without = _run_racy(tmp_path, "without-plugin")
    assert "INTERNALERROR" in without.stdout + without.stderr  # what CPython < 3.11.8 does
    report = _run_racy(tmp_path, "with-plugin")
    out = report.stdout + report.stderr
    assert "INTERNALERROR" not in out, out
    assert report.returncode == 1 and "1 failed" in out, out
    assert "the failure a developer must be able to read" in out, out


def test_a_skipped_test_fails_the_run(tmp_path):
    test = tmp_path / "test_skips.py"
    test.write_text("import pytest\n\ndef test_skipped():\n    pytest.skip('no tool')\n")
    cmd = [sys.executable, "-m", "pytest", str(test), "-p", "tests.readable_failures", "-q"]
    cmd += ["-p", "no:cacheprovider"]
    env = {k: v for k, v in os.environ.items() if k != "LIVEBOT_ALLOW_SKIPS"}
    env["PYTHONPATH"] = str(ROOT)
    strict = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert strict.returncode == 1 and "a skipped test fails the run" in strict.stdout
    allowed = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, env={**env, "LIVEBOT_ALLOW_SKIPS": "1"}
    )
    assert allowed.returncode == 0, allowed.stdout
