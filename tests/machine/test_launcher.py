"""The launcher's network clients use the system's CA store and keep the user's choice."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bootstrap  # noqa: E402


def test_network_clients_get_the_system_ca_store_unless_the_user_chose_one(tmp_path):
    bundle = bootstrap.system_ca_bundle()
    assert bundle and Path(bundle).is_file(), "this Debian has a CA store"
    env = bootstrap.network_env({"PATH": "/usr/bin"})
    # pip-audit (requests), pip and Node/npm would otherwise each use a bundle of their own.
    for var in ("REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"):
        assert env[var] == bundle, var
    assert env["UV_SYSTEM_CERTS"] == "1"
    mine = str(tmp_path / "corporate.pem")
    kept = bootstrap.network_env({"REQUESTS_CA_BUNDLE": mine, "HTTPS_PROXY": "http://p:3128"})
    assert kept["REQUESTS_CA_BUNDLE"] == mine and kept["HTTPS_PROXY"] == "http://p:3128"


def test_a_system_without_a_ca_store_is_recognised(monkeypatch):
    monkeypatch.setattr(bootstrap, "SYSTEM_CA_BUNDLES", ("/nonexistent/ca.crt",))
    monkeypatch.setattr(
        bootstrap.ssl, "get_default_verify_paths", lambda: type("P", (), {"cafile": None})()
    )
    assert bootstrap.system_ca_bundle() is None
    env = bootstrap.network_env({})
    assert "REQUESTS_CA_BUNDLE" not in env and "NODE_EXTRA_CA_CERTS" not in env


def test_quick_runs_a_check_again_only_when_what_it_reads_changed(tmp_path, monkeypatch):
    import livebot

    (tmp_path / "web" / "src").mkdir(parents=True)
    (tmp_path / "web" / "src" / "app.ts").write_text("one")
    monkeypatch.setattr(livebot, "ROOT", tmp_path)
    monkeypatch.setattr(livebot, "STAMPS", tmp_path / ".tools" / "stamps")
    assert not livebot._unchanged("page")  # never passed
    assert livebot._passed("page", "the page build failed") == "the page build failed"
    assert not livebot._unchanged("page")  # a failure is not remembered
    livebot._passed("page", None)
    assert livebot._unchanged("page")
    (tmp_path / "web" / "src" / "app.ts").write_text("two")
    assert not livebot._unchanged("page")
    (tmp_path / "web" / "src" / "app.ts").write_text("one")
    assert livebot._unchanged("page")
    (tmp_path / "web" / "src" / "new.ts").write_text("")
    assert not livebot._unchanged("page")


def test_quick_runs_the_type_check_again_only_when_python_it_checks_changed(tmp_path, monkeypatch):
    import livebot

    for package in ("bot", "tools", "caller", "gemini_emulator", "testkit"):
        (tmp_path / package / "sub").mkdir(parents=True)
    (tmp_path / "bot" / "sub" / "call.py").write_text("x = 1")
    (tmp_path / "pyproject.toml").write_text("[tool.mypy]")
    monkeypatch.setattr(livebot, "ROOT", tmp_path)
    monkeypatch.setattr(livebot, "STAMPS", tmp_path / ".tools" / "stamps")
    livebot._passed("types", 0)
    assert livebot._unchanged("types")
    (tmp_path / "bot" / "web").mkdir()
    (tmp_path / "bot" / "web" / "page.js").write_text("not Python")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("not checked by mypy")
    assert livebot._unchanged("types"), "only the Python mypy checks counts"
    for changed in ("tools/sub/api.py", "testkit/stage.py", "gemini_emulator/sub/s.py"):
        (tmp_path / changed).write_text("y = 2")
        assert not livebot._unchanged("types"), changed
        livebot._passed("types", 0)
    (tmp_path / "bot" / "sub" / "call.py").write_text("x = 2")
    assert not livebot._unchanged("types")
    livebot._passed("types", 0)
    (tmp_path / "pyproject.toml").write_text("[tool.mypy]\nstrict = true")
    assert not livebot._unchanged("types"), "its configuration counts too"


def test_the_type_check_covers_every_package_mypy_is_configured_for():
    import tomllib

    import livebot

    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    watched = livebot.CHECK_INPUTS["types"]
    assert [f for f in files if f"{f}/**/*.py" not in watched] == []
    assert "pyproject.toml" in watched and "uv.lock" in watched


def _fake_test_command(monkeypatch, tmp_path, mypy_rc):
    """`cmd_test` with every install and check stubbed; returns the commands it ran."""
    import livebot

    ran: list[list[str]] = []

    def run(cmd, env=None):
        ran.append([str(c) for c in cmd])
        return mypy_rc if "mypy" in ran[-1] else 0

    monkeypatch.setattr(livebot, "ROOT", tmp_path)
    monkeypatch.setattr(livebot, "STAMPS", tmp_path / ".tools" / "stamps")
    monkeypatch.setattr(livebot, "ensure_ca_store", lambda: None)
    monkeypatch.setattr(livebot, "ensure_packages", lambda names: None)
    monkeypatch.setattr(livebot, "read_package_list", lambda path: [])
    monkeypatch.setattr(livebot, "_uv_synced", lambda: Path("uv"))
    monkeypatch.setattr(livebot, "_page_problem", lambda: None)
    monkeypatch.setattr(livebot, "_check_deploy", lambda uv: 0)
    monkeypatch.setattr(livebot, "_audit", lambda uv: None)
    monkeypatch.setattr(livebot, "_run", run)
    monkeypatch.delenv("LIVEBOT_NO_LINT", raising=False)
    return ran


def test_the_test_command_type_checks_and_fails_when_mypy_does(tmp_path, monkeypatch, capsys):
    import livebot

    ran = _fake_test_command(monkeypatch, tmp_path, mypy_rc=1)
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "x.py").write_text("x: int = 'no'")
    assert livebot.cmd_test(["tests/unit"]) == 1
    assert ["uv", "run", "--no-sync", "mypy"] in ran
    assert ran[-1][-1] == "tests/unit", "pytest still runs after a failed type check"
    out = capsys.readouterr()
    assert "the type check (mypy) failed" in out.out + out.err
    ran.clear()
    assert livebot.cmd_test(["--quick", "tests/unit"]) == 1, "a failure is not remembered"
    assert ["uv", "run", "--no-sync", "mypy"] in ran


def test_quick_skips_the_type_check_when_nothing_it_reads_changed(tmp_path, monkeypatch):
    import livebot

    ran = _fake_test_command(monkeypatch, tmp_path, mypy_rc=0)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "x.py").write_text("x = 1")
    assert livebot.cmd_test(["--quick", "tests/unit"]) == 0
    assert ["uv", "run", "--no-sync", "mypy"] in ran  # never passed before: it runs
    ran.clear()
    assert livebot.cmd_test(["--quick", "tests/unit"]) == 0
    assert not [c for c in ran if "mypy" in c], ran
    ran.clear()
    assert livebot.cmd_test(["tests/unit"]) == 0, "without --quick it always runs"
    assert ["uv", "run", "--no-sync", "mypy"] in ran
    (tmp_path / "tools" / "x.py").write_text("x = 2")
    ran.clear()
    assert livebot.cmd_test(["--quick", "tests/unit"]) == 0
    assert ["uv", "run", "--no-sync", "mypy"] in ran
