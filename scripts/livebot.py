"""./livebot: one entry point that installs what it needs, then runs the project.

    ./livebot serve            run the bot server (http://localhost:7860)
    ./livebot test [ARGS...]   install the test packages, rebuild the call page, lint,
                               type-check (mypy), check the Dockerfiles and compose files,
                               pip-audit the locked dependencies, then the test suite; ARGS
                               go to pytest. Fails if any of these fails, or if the page that
                               web/ builds differs from the committed bot/web/dist
                               (LIVEBOT_NO_LINT=1 skips lint)
    ./livebot test --quick [ARGS...]
                               the same, but the page build, the type check, the deployment
                               checks and pip-audit run only if what they read changed since
                               they last passed; for a developer's edit-test loop (CI runs
                               the full command)
    ./livebot lint             ruff check + ruff format --check
    ./livebot format           ruff format + ruff check --fix
    ./livebot setup            only install: uv, the locked Python deps (+ test packages)
    ./livebot build-page       rebuild the call page (web/ -> bot/web/dist; needs node + npm)
    ./livebot <anything else>  uv run python -m bot <anything else>

Standard library only; see scripts/bootstrap.py for how uv is found or installed.
"""

from __future__ import annotations

import hashlib
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
    ensure_ca_store,
    ensure_packages,
    ensure_uv,
    network_env,
    read_package_list,
    say,
)

TEST_PACKAGES = ROOT / "scripts" / "test-packages.txt"
PAGE_SOURCES = ROOT / "web"
PAGE_DIST = ROOT / "bot" / "web" / "dist"
PYTEST_NO_TESTS = 5


def _run(cmd: list[str | os.PathLike[str]], env: dict[str, str] | None = None) -> int:
    """Run a child to completion. SIGTERM/SIGHUP sent to the launcher are passed on to it;
    SIGINT is left to the child (Ctrl-C reaches the whole foreground process group)."""
    proc = subprocess.Popen([os.fspath(c) for c in cmd], cwd=ROOT, env=env)

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
    # uv trusts the system's CA store (network_env), so that an index behind a
    # TLS-inspecting proxy with a locally installed CA still works.
    ensure_ca_store()
    os.environ.setdefault("UV_SYSTEM_CERTS", "1")
    os.environ.setdefault("UV_NATIVE_TLS", "1")  # the same, for older uv on PATH
    uv = ensure_uv()
    say(f"uv sync --frozen ({uv})")
    if _run([uv, "sync", "--frozen"], env=network_env()) != 0:
        raise BootstrapError("`uv sync --frozen` failed (its own error is above)")
    return uv


def _lint(uv: Path) -> int:
    say("ruff check")
    rc = _run([uv, "run", "--no-sync", "ruff", "check", "."])
    say("ruff format --check")
    rc2 = _run([uv, "run", "--no-sync", "ruff", "format", "--check", "."])
    if rc or rc2:
        say("lint failed (./livebot format fixes formatting and the auto-fixable findings)")
    return rc or rc2


def _typecheck(uv: Path) -> int:
    """mypy over the packages `[tool.mypy]` in pyproject.toml names (bot/, tools/, ...)."""
    say("mypy (the packages [tool.mypy] files names in pyproject.toml)")
    rc = _run([uv, "run", "--no-sync", "mypy"])
    if rc:
        say("the type check failed: fix the errors above (`.venv/bin/mypy` runs it alone)")
    return rc


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


def _audit(uv: Path) -> str | None:
    """pip-audit the locked dependencies. Returns None when none has a known
    vulnerability, else what failed: the vulnerable packages, or pip-audit's own error
    when it could not run (an unreachable or untrusted index is not a vulnerability).
    Packages the index has no vulnerability data for are counted, not failed."""
    say("pip-audit (the locked dependencies)")
    with tempfile.TemporaryDirectory() as tmp:
        reqs, report = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        export = subprocess.run(
            [uv, "export", "--frozen", "--format", "requirements-txt", "--no-hashes",
             "--no-emit-project", "--quiet"],
            capture_output=True, text=True, cwd=ROOT, env=network_env(),
        )  # fmt: skip
        if export.returncode:
            say(f"uv export failed: {export.stderr.strip()}")
            return "uv export of the lockfile failed (see above)"
        reqs.write_text(export.stdout)
        run = subprocess.run(
            [uv, "run", "--no-sync", "pip-audit", "-r", reqs, "--no-deps", "--disable-pip",
             "--progress-spinner", "off", "-f", "json", "-o", report],
            capture_output=True, text=True, cwd=ROOT, env=network_env(),
        )  # fmt: skip
        deps = json.loads(report.read_text()).get("dependencies", []) if report.is_file() else []
    vulnerable = [d for d in deps if d.get("vulns")]
    if not deps or (run.returncode and not vulnerable):
        lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
        say(f"pip-audit could not run (exit {run.returncode}):\n" + "\n".join(lines[-15:]))
        return "pip-audit could not run: its own error is above"
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
    if vulnerable:
        return f"pip-audit found known vulnerabilities in {len(vulnerable)} package(s) (see above)"
    return None


def _npm() -> str:
    """npm, installed from Debian if missing (Debian 12: Node 18 with npm 9.2; the page
    builds with that and anything newer)."""
    if not shutil.which("npm"):
        ensure_packages(["nodejs", "npm"])
    npm = shutil.which("npm")
    if not npm:
        raise BootstrapError(
            "npm not found: install Node.js >= 18 with npm (apt-get install nodejs npm)"
        )
    return npm


def _build_page(outdir: Path | None = None) -> int:
    """npm ci + the esbuild build of web/ into bot/web/dist (the committed page) or
    into `outdir`."""
    npm = _npm()
    ensure_ca_store()
    say("npm ci (web/)")
    ci = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PAGE_SOURCES, env=network_env())
    if ci.returncode != 0:
        say(f"npm ci failed (exit {ci.returncode}); npm's log is in ~/.npm/_logs")
        return ci.returncode
    say(f"build the call page (web/ -> {outdir or PAGE_DIST.relative_to(ROOT)})")
    cmd = [npm, "run", "--silent", "build"] + (
        ["--", "--outdir", os.fspath(outdir)] if outdir else []
    )
    return subprocess.run(cmd, cwd=PAGE_SOURCES).returncode


def _page_problem() -> str | None:
    """Rebuild the page into a scratch folder and compare it, file by file, with the
    committed bot/web/dist (no git needed: a tarball or a copied tree is checked too)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist"
        if _build_page(out) != 0:
            return "the call page build failed (see above)"
        built = {p.name: p.read_bytes() for p in out.iterdir()}
        committed = (
            {p.name: p.read_bytes() for p in PAGE_DIST.iterdir()} if PAGE_DIST.is_dir() else {}
        )
    stale = sorted(n for n in built.keys() | committed.keys() if built.get(n) != committed.get(n))
    if not stale:
        return None
    say(f"bot/web/dist differs from what web/ builds: {', '.join(stale)}")
    say("rebuild it with ./livebot build-page and commit bot/web/dist")
    return "the committed call page is stale (see above)"


# What each check of `./livebot test` reads: `--quick` skips a check whose inputs are
# unchanged since it last passed (a digest of them is kept in .tools/stamps/).
CHECK_INPUTS = {
    "page": ["web/src", "web/stubs", "web/build.mjs", "web/package.json", "web/package-lock.json",
             "bot/web/dist"],
    "deploy": ["Dockerfile", "docker-compose.yml", "deploy", ".dockerignore"],
    "audit": ["uv.lock"],
    # mypy's `files` (pyproject.toml [tool.mypy]), its configuration, and the locked
    # versions of the libraries whose types it checks against.
    "types": ["bot/**/*.py", "tools/**/*.py", "caller/**/*.py", "gemini_emulator/**/*.py",
              "testkit/**/*.py", "pyproject.toml", "uv.lock"],
}  # fmt: skip
STAMPS = Path(os.environ.get("LIVEBOT_TOOLS") or ROOT / ".tools") / "stamps"


def _digest(check: str) -> str:
    h = hashlib.sha256()
    for top in CHECK_INPUTS[check]:
        path = ROOT / top
        if "*" in top:  # a glob: the files it matches (one added or removed changes it)
            files = sorted(p for p in ROOT.glob(top) if p.is_file())
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        else:
            files = [path]
        for f in files:
            h.update(os.fspath(f.relative_to(ROOT)).encode() + b"\0")
            h.update(f.read_bytes() if f.is_file() else b"(missing)")
    return h.hexdigest()


def _unchanged(check: str) -> bool:
    stamp = STAMPS / check
    return stamp.is_file() and stamp.read_text() == _digest(check)


def _passed(check: str, problem: str | int | None) -> str | int | None:
    """Remember that `check` passed on its current inputs; return the problem as is."""
    if not problem:
        STAMPS.mkdir(parents=True, exist_ok=True)
        (STAMPS / check).write_text(_digest(check))
    return problem


def cmd_test(args: list[str]) -> int:
    quick = "--quick" in args
    args = [a for a in args if a != "--quick"]
    ensure_ca_store()
    ensure_packages(read_package_list(TEST_PACKAGES))
    skipped = [c for c in CHECK_INPUTS if quick and _unchanged(c)]
    if skipped:
        say(f"--quick: unchanged since they last passed, not run again: {', '.join(skipped)}")
    problems: list[str | None] = []
    if "page" not in skipped:
        problems.append(_passed("page", _page_problem()))  # type: ignore[arg-type]
    uv = _uv_synced()
    if not os.environ.get("LIVEBOT_NO_LINT") and _lint(uv):
        problems.append("lint failed (see above)")
    if "types" not in skipped and _passed("types", _typecheck(uv)):
        problems.append("the type check (mypy) failed (see above)")
    if "deploy" not in skipped and _passed("deploy", _check_deploy(uv)):
        problems.append("the Dockerfile/compose check failed (see above)")
    if "audit" not in skipped:
        problems.append(_passed("audit", _audit(uv)))  # type: ignore[arg-type]
    say(f"pytest {' '.join(args)}".rstrip())
    rc = _run([uv, "run", "--no-sync", "python", "-m", "pytest", *args])
    if rc == PYTEST_NO_TESTS:
        say("pytest ran no tests: that is a failure")
    for problem in filter(None, problems):
        say(f"{problem}: the test command fails too")
    return rc or (1 if any(problems) else 0)


def cmd_build_page(args: list[str]) -> int:
    return _build_page()


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
