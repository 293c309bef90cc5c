"""The Live stage harness for our tests (see `testkit.stage`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.settings import LiveSettings
from gemini_emulator import LiveEmulator
from testkit import stage as testing
from testkit.stage import StageHarness, live_settings, silence
from tools.registry import ToolRegistry

__all__ = ["StageHarness", "live_settings", "running_stage", "silence"]


@asynccontextmanager
async def running_stage(
    emulator: LiveEmulator,
    monkeypatch: pytest.MonkeyPatch | None = None,
    *,
    tools: ToolRegistry | None = None,
    live: LiveSettings | None = None,
    greeting: str | None = None,
) -> AsyncIterator[StageHarness]:
    """`testkit.stage.running_stage`; `monkeypatch` is accepted for older call sites."""
    async with testing.running_stage(
        emulator, tools=tools, live=live, greeting=greeting
    ) as harness:
        yield harness
