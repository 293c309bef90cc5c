"""Reusable test helpers: run an emulator and point google-genai at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .server import LiveEmulator
from .session import Script
from .tls import write_ca_bundle

__all__ = ["client_env", "running_emulator"]


@asynccontextmanager
async def running_emulator(
    tmp_path: str | Path, script: Script | None = None, **kwargs: Any
) -> AsyncIterator[LiveEmulator]:
    """Start a :class:`LiveEmulator` with its TLS files in ``tmp_path``; stop it after."""
    emulator = LiveEmulator(script=script, data_dir=Path(tmp_path) / "emulator-tls", **kwargs)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def client_env(emulator: LiveEmulator, *, bundle: bool = True) -> dict[str, str]:
    """Environment making google-genai (constructed afterwards) talk to ``emulator``.

    ``SSL_CERT_FILE`` is certifi's bundle + the emulator CA (``bundle=True``) or the CA only.
    """
    ca = emulator.ca_file
    cert_file = write_ca_bundle(ca, ca.parent / "ca-bundle.pem") if bundle else ca
    return {"GOOGLE_GEMINI_BASE_URL": emulator.base_url, "SSL_CERT_FILE": str(cert_file)}
