"""Loguru set-up: one line per event, each with the call it belongs to."""

from __future__ import annotations

import sys

from loguru import logger

FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>[{extra[call_id]}]</cyan> {message}"
)


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr; lines outside a call show `[-]`."""
    logger.remove()
    logger.configure(extra={"call_id": "-"})
    logger.add(sys.stderr, level=level, format=FORMAT, backtrace=False, diagnose=False)
