"""Offline echo test: with no API key, the bot talks to its built-in Live emulator.

The production code path is unchanged: the Google client is pointed at the
emulator through the SDK's own variables (`GOOGLE_GEMINI_BASE_URL`, and
`SSL_CERT_FILE` naming a bundle of the usual CAs plus the emulator's own).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from loguru import logger

from bot.live.emulator import LiveEmulator
from bot.live.emulator.scripts import echo
from bot.live.emulator.tls import write_ca_bundle

# Not a secret: the emulator accepts only this key, and Google would refuse it.
OFFLINE_API_KEY = "livebot-offline-echo"


@asynccontextmanager
async def offline_live(data_dir: Path) -> AsyncIterator[str]:
    """Run the emulator with the echo script; yield the key to use with it."""
    emulator = LiveEmulator(api_keys={OFFLINE_API_KEY}, script=echo, data_dir=data_dir / "emulator")
    await emulator.start()
    bundle = write_ca_bundle(emulator.ca_file, data_dir / "emulator" / "ca-bundle.pem")
    saved = {k: os.environ.get(k) for k in ("GOOGLE_GEMINI_BASE_URL", "SSL_CERT_FILE")}
    os.environ["GOOGLE_GEMINI_BASE_URL"] = emulator.base_url
    os.environ["SSL_CERT_FILE"] = str(bundle)
    logger.info(f"built-in Live emulator (echo) listening on {emulator.base_url}")
    try:
        yield OFFLINE_API_KEY
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        await emulator.stop()
