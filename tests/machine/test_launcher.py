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
