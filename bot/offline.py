"""Offline echo test: with no API key, the bot talks to its built-in Live emulator.

The production code path is unchanged: the Google client is pointed at the
emulator through the SDK's own variables (`GOOGLE_GEMINI_BASE_URL`, and
`SSL_CERT_FILE` naming a bundle of the usual CAs plus the emulator's own).

Each process has its own CA and bundle, in a directory of its own under
`<data dir>/emulator/` that it removes when it stops: two servers on one data
directory (deploy/compose.two-bots.yml) would otherwise overwrite each other's CA,
and the first one's calls would then fail TLS against its own emulator.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from loguru import logger

from bot.envpatch import patched_env
from gemini_emulator import LiveEmulator
from gemini_emulator.scripts import echo
from gemini_emulator.session import Script
from gemini_emulator.tls import write_ca_bundle

# Not a secret: the emulator accepts only this key, and Google would refuse it.
OFFLINE_API_KEY = "livebot-offline-echo"


@asynccontextmanager
async def offline_live(
    data_dir: Path, script: Script = echo, what: str = "echo"
) -> AsyncIterator[str]:
    """Run the emulator with ``script`` (the echo, or a rehearsal); yield the key to use."""
    parent = data_dir / "emulator"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=parent) as own:
        emulator = LiveEmulator(api_keys={OFFLINE_API_KEY}, script=script, data_dir=own)
        await emulator.start()
        bundle = write_ca_bundle(emulator.ca_file, emulator.ca_file.parent / "ca-bundle.pem")
        logger.info(f"built-in Live emulator ({what}) listening on {emulator.base_url}")
        try:
            with patched_env(
                {"GOOGLE_GEMINI_BASE_URL": emulator.base_url, "SSL_CERT_FILE": str(bundle)}
            ):
                yield OFFLINE_API_KEY
        finally:
            await emulator.stop()
