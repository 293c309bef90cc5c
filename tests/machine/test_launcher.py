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
