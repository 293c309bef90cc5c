"""Headless Debian Chromium driven by Playwright, for the call page's tests.

Never downloads a browser: it uses the system Chromium (``./livebot test`` installs the
``chromium`` package); a test fails, naming what to install, when it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "bot" / "web" / "dist"
ARTIFACTS = ROOT / "tests" / ".artifacts" / "browser"

CHROMIUM = os.environ.get("LIVEBOT_CHROMIUM") or next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
    "",
)
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--autoplay-policy=no-user-gesture-required",
]


def mic_wav(speech: Callable[..., Path], text: str) -> Path:
    """A WAV Chromium's fake capture plays: 16-bit PCM, 48 kHz mono, 1.5 s of silence after."""
    src = speech(text, rate=48000)
    out = src.with_name(src.stem + "-mic.wav")
    if not out.exists():
        tmp = out.with_suffix(f".tmp{os.getpid()}.wav")
        subprocess.run(["sox", str(src), str(tmp), "pad", "0.5", "1.5"], check=True)
        tmp.replace(out)
    return out


@asynccontextmanager
async def chromium(
    *,
    wav: Path | None = None,
    fake_ui: bool = True,
    fake_devices: bool = True,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[object]:
    """A headless Chromium; `wav` is what its fake microphone says (once, then silence);
    `extra_args` are more Chromium switches (e.g. a fake camera's file)."""
    import playwright.async_api as playwright_api

    if not CHROMIUM:
        pytest.fail(
            "chromium is not installed: ./livebot test installs it (scripts/test-packages.txt)"
        )
    args = list(BASE_ARGS)
    if fake_ui:
        args.append("--use-fake-ui-for-media-stream")
    if fake_devices:
        args.append("--use-fake-device-for-media-stream")
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}%noloop")
    args.extend(extra_args)
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
