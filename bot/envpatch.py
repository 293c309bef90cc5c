"""Set environment variables for a while, then put them back as they were.

The Google SDK reads its endpoint and CA bundle from the environment
(`GOOGLE_GEMINI_BASE_URL`, `SSL_CERT_FILE`); the offline echo test and the tests
point it at the emulator this way, so the production code path is the one used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
