"""The committed page (bot/web/dist) is what web/ builds, and loads nothing from elsewhere."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.browser.conftest import DIST, ROOT

WEB = ROOT / "web"
# Strings in the bundled libraries that look like URLs but are never fetched: the
# client's own package metadata and an error message of uuid.
INERT_URLS = {
    "https://github.com/pipecat-ai/pipecat-client-web.git",
    "https://github.com/uuidjs/uuid#getrandomvalues-not-supported",
}


def test_the_page_is_built_and_committed():
    assert sorted(p.name for p in DIST.iterdir()) == [
        "THIRD_PARTY_LICENSES.txt",
        "app.css",
        "app.js",
        "index.html",
    ]


def test_the_build_is_deterministic_and_matches_the_committed_page(tmp_path):
    node = shutil.which("node")
    if not node or not (WEB / "node_modules" / "esbuild").exists():
        pytest.fail("node or web/node_modules missing: ./livebot test runs npm ci first")
    for out in ("a", "b"):
        subprocess.run(
            [node, "build.mjs", "--outdir", str(tmp_path / out)],
            cwd=WEB,
            check=True,
            capture_output=True,
        )
    for f in DIST.iterdir():
        a, b = (tmp_path / "a" / f.name).read_bytes(), (tmp_path / "b" / f.name).read_bytes()
        assert a == b, f"{f.name}: two builds differ"
        assert a == f.read_bytes(), f"{f.name} is stale: run ./livebot build-page and commit it"


def test_the_page_references_only_its_own_server():
    html = (DIST / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith(("/static/", "#", "data:")) for r in refs), refs
    js = (DIST / "app.js").read_text()
    assert "sourceMappingURL" not in js and "sourceMappingURL" not in html
    urls = set(re.findall(r"https?://[^\s\"'`)<>\\]+", js))
    assert urls <= INERT_URLS, urls - INERT_URLS
    # Daily's SDK is replaced by a stub: its call-object bundle cannot be fetched.
    assert "daily.co" not in js and "call-machine" not in js
    assert "AIza" not in js + html, "no Google API key in the page"
