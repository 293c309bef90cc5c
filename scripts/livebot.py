"""./livebot: one entry point that installs what it needs, then runs the project.

    ./livebot serve            run the bot server (http://localhost:7860)
    ./livebot test [ARGS...]   lint, then the test suite; ARGS go to pytest
                               (fails if either fails; LIVEBOT_NO_LINT=1 skips lint)
    ./livebot lint             ruff check + ruff format --check
    ./livebot format           ruff format + ruff check --fix
    ./livebot setup            only install: uv, the locked Python deps (+ test packages)
    ./livebot <anything else>  uv run python -m bot <anything else>

Standard library only; see scripts/bootstrap.py for how uv is found or installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import (
    ROOT,
    BootstrapError,
    ensure_packages,
    ensure_uv,
    read_package_list,
    say,
)

TEST_PACKAGES = ROOT / "scripts" / "test-packages.txt"
PYTEST_NO_TESTS = 5


def _run(cmd: list[str | os.PathLike[str]]) -> int:
    """Run a child to completion. SIGTERM/SIGHUP sent to the launcher are passed on to it;
    SIGINT is left to the child (Ctrl-C reaches the whole foreground process group)."""
    proc = subprocess.Popen([os.fspath(c) for c in cmd], cwd=ROOT)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    handlers = {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: forward, signal.SIGHUP: forward}
    old = {sig: signal.signal(sig, h) for sig, h in handlers.items()}
    try:
        return proc.wait()
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _uv_synced() -> Path:
    # Trust the system's CA store (uv bundles its own roots by default), so that an
    # index behind a TLS-inspecting proxy with a locally installed CA still works.
    os.environ.setdefault("UV_SYSTEM_CERTS", "1")
    os.environ.setdefault("UV_NATIVE_TLS", "1")  # the same, for older uv on PATH
    uv = ensure_uv()
    say(f"uv sync --frozen ({uv})")
    if _run([uv, "sync", "--frozen"]) != 0:
        raise BootstrapError("`uv sync --frozen` failed")
    return uv


def _lint(uv: Path) -> int:
    say("ruff check")
    rc = _run([uv, "run", "--no-sync", "ruff", "check", "."])
    say("ruff format --check")
    rc2 = _run([uv, "run", "--no-sync", "ruff", "format", "--check", "."])
    if rc or rc2:
        say("lint failed (./livebot format fixes formatting and the auto-fixable findings)")
    return rc or rc2


def cmd_test(args: list[str]) -> int:
    ensure_packages(read_package_list(TEST_PACKAGES))
    uv = _uv_synced()
    lint_rc = 0 if os.environ.get("LIVEBOT_NO_LINT") else _lint(uv)
    say(f"pytest {' '.join(args)}".rstrip())
    rc = _run([uv, "run", "--no-sync", "python", "-m", "pytest", *args])
    if rc == PYTEST_NO_TESTS:
        say("pytest ran no tests: that is a failure")
    if lint_rc:
        say("lint failed (see above): the test command fails too")
    return rc or lint_rc


def cmd_lint(args: list[str]) -> int:
    return _lint(_uv_synced())


def cmd_format(args: list[str]) -> int:
    uv = _uv_synced()
    rc = _run([uv, "run", "--no-sync", "ruff", "format", "."])
    return _run([uv, "run", "--no-sync", "ruff", "check", "--fix", "."]) or rc


def cmd_setup(args: list[str]) -> int:
    if "--no-test-packages" not in args:
        ensure_packages(read_package_list(TEST_PACKAGES))
    _uv_synced()
    return 0


def cmd_bot(args: list[str]) -> int:
    uv = _uv_synced()
    return _run([uv, "run", "--no-sync", "python", "-m", "bot", *args])


COMMANDS = {"test": cmd_test, "lint": cmd_lint, "format": cmd_format, "setup": cmd_setup}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    try:
        return COMMANDS.get(cmd, lambda a: cmd_bot([cmd, *a]))(args)
    except BootstrapError as e:
        print(f"livebot: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
