"""./livebot: one entry point that installs what it needs, then runs the project.

    ./livebot serve            run the bot server (http://localhost:7860)
    ./livebot test [ARGS...]   rebuild the call page, lint, check the Dockerfiles and compose,
                              pip-audit the locked dependencies
                               files, then the test suite; ARGS go to pytest (fails if any
                               fails, or if the rebuilt page differs from the committed
                               bot/web/dist; LIVEBOT_NO_LINT=1 skips lint)
    ./livebot lint             ruff check + ruff format --check
    ./livebot format           ruff format + ruff check --fix
    ./livebot setup            only install: uv, the locked Python deps (+ test packages)
    ./livebot build-page       rebuild the call page (web/ -> bot/web/dist; needs node + npm)
    ./livebot <anything else>  uv run python -m bot <anything else>

Standard library only; see scripts/bootstrap.py for how uv is found or installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
PAGE_SOURCES = ROOT / "web"
PAGE_DIST = ROOT / "bot" / "web" / "dist"
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


# A stand-in .env for validating docker-compose.yml: the secrets it requires, test values.
DEPLOY_TEST_ENV = (
    "DOMAIN=livebot.example.org\n"
    "LIVEBOT_SECRET=deploy-check-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    "TURN_SECRET=deploy-check-0123456789abcdef0123456789abcdef\n"
)


def _check_deploy(uv: Path) -> int:
    """hadolint the Dockerfiles; `docker-compose config` (Compose v2, from PyPI) checks the
    compose files against the Compose specification with a test .env, every profile on."""
    say("hadolint Dockerfile deploy/radicale/Dockerfile")
    rc = _run([uv, "run", "--no-sync", "hadolint", "Dockerfile", "deploy/radicale/Dockerfile"])
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "test.env"
        env_file.write_text(DEPLOY_TEST_ENV)
        os.environ["LIVEBOT_ENV_FILE"] = str(env_file)
        for extra in ([], ["-f", "deploy/compose.two-bots.yml"]):
            files = ["-f", "docker-compose.yml", *extra]
            say(f"docker-compose {' '.join(files)} config (test .env, all profiles)")
            cmd = ["docker-compose", *files, "--env-file", env_file, "--profile", "*"]
            rc = _run([uv, "run", "--no-sync", *cmd, "config", "--quiet"]) or rc
        del os.environ["LIVEBOT_ENV_FILE"]
    if rc:
        say("the Dockerfile or compose check failed (see above)")
    return rc


def _audit(uv: Path) -> int:
    """pip-audit the locked dependencies: fail on a known vulnerability; say plainly how
    many packages could not be audited (an index without vulnerability data)."""
    say("pip-audit (the locked dependencies)")
    with tempfile.TemporaryDirectory() as tmp:
        reqs, report = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        export = subprocess.run(
            [
                uv,
                "export",
                "--frozen",
                "--format",
                "requirements-txt",
                "--no-hashes",
                "--no-emit-project",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if export.returncode:
            say(f"uv export failed: {export.stderr.strip()}")
            return 1
        reqs.write_text(export.stdout)
        rc = subprocess.run(
            [
                uv,
                "run",
                "--no-sync",
                "pip-audit",
                "-r",
                reqs,
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "-f",
                "json",
                "-o",
                report,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).returncode
        if not report.is_file():
            say(f"pip-audit did not run (exit {rc})")
            return 1
        deps = json.loads(report.read_text()).get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    for d in vulnerable:
        ids = ", ".join(v.get("id", "?") for v in d["vulns"])
        say(f"VULNERABLE {d['name']} {d.get('version')}: {ids}")
    say(
        f"pip-audit: {len(deps) - len(skipped)} of {len(deps)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
        + (
            f"; {len(skipped)} could not be audited (the index here has no vulnerability data"
            " for them)"
            if skipped
            else ""
        )
    )
    return 1 if vulnerable else 0


def _build_page(*, install: bool) -> int:
    """npm ci + the esbuild build of web/ into bot/web/dist (the committed page)."""
    if not shutil.which("npm") and install:
        ensure_packages(["nodejs", "npm"])  # Debian's; any Node >= 18 with npm will do
    npm = shutil.which("npm")
    if not npm:
        raise BootstrapError(
            "npm not found: install Node.js >= 18 with npm (apt-get install nodejs npm)"
        )
    say("npm ci (web/)")
    ci = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PAGE_SOURCES)
    if ci.returncode != 0:
        return ci.returncode
    say("build the call page (web/ -> bot/web/dist)")
    return subprocess.run([npm, "run", "--silent", "build"], cwd=PAGE_SOURCES).returncode


def _page_matches_commit() -> bool:
    """Whether bot/web/dist, just rebuilt, is what is committed (no git: not checked)."""
    if not shutil.which("git") or not (ROOT / ".git").exists():
        say("no git checkout: the rebuilt page is not compared with a commit")
        return True
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", os.fspath(PAGE_DIST)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode == 0 and not out.stdout.strip():
        return True
    say("bot/web/dist differs from the committed page:\n" + out.stdout.rstrip())
    say("rebuild it with ./livebot build-page and commit bot/web/dist")
    return False


def cmd_test(args: list[str]) -> int:
    ensure_packages(read_package_list(TEST_PACKAGES))
    page_rc = _build_page(install=True)
    if page_rc == 0 and not _page_matches_commit():
        page_rc = 1
    uv = _uv_synced()
    lint_rc = 0 if os.environ.get("LIVEBOT_NO_LINT") else _lint(uv)
    deploy_rc = _check_deploy(uv)
    audit_rc = _audit(uv)
    say(f"pytest {' '.join(args)}".rstrip())
    rc = _run([uv, "run", "--no-sync", "python", "-m", "pytest", *args])
    if rc == PYTEST_NO_TESTS:
        say("pytest ran no tests: that is a failure")
    if lint_rc:
        say("lint failed (see above): the test command fails too")
    if page_rc:
        say("the call page build failed or is stale (see above): the test command fails too")
    if deploy_rc:
        say("the Dockerfile/compose check failed (see above): the test command fails too")
    if audit_rc:
        say("pip-audit found a known vulnerability (see above): the test command fails too")
    return rc or lint_rc or page_rc or deploy_rc or audit_rc


def cmd_build_page(args: list[str]) -> int:
    return _build_page(install=False)


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


COMMANDS = {
    "test": cmd_test,
    "lint": cmd_lint,
    "format": cmd_format,
    "setup": cmd_setup,
    "build-page": cmd_build_page,
}


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
