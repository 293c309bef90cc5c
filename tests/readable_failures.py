"""Failure reports that can always be read, and no test that silently does not run.

**The AST race.** CPython before 3.11.8 (Debian 12 ships 3.11.2) keeps the recursion
depth of ``ast.parse`` in one interpreter-wide counter (gh-106905, fixed by
python/cpython#113476): when a garbage collection in the middle of a parse runs a
finaliser and another thread parses meanwhile, the first parse fails with ``SystemError:
AST constructor recursion depth mismatch``. pytest parses the test's source to format a
failure (and Python's own tracebacks parse to place their ``^^^`` markers), and the call
tests have aiortc, uvicorn and the emulator in threads: the report of a failure then
becomes a pytest INTERNALERROR that ends the run. The error is transient (nothing is
left corrupt: each parse starts the counter afresh), so on the affected versions
``ast.parse`` is retried a few times on exactly that error. Nothing else changes.

**Skips.** ``./livebot test`` installs everything the tests need, so a test skipped for
a missing tool is a test that did not run; the run fails if any test was skipped
(``LIVEBOT_ALLOW_SKIPS=1`` allows them for a developer's partial runs).
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from typing import Any

import pytest

AST_RACE_MESSAGE = "AST constructor recursion depth mismatch"
AST_RETRIES = 5


def has_ast_race(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> bool:
    """Whether this CPython has gh-106905 (fixed in 3.11.8 and 3.12.1)."""
    return version < (3, 11, 8) or (3, 12, 0) <= version < (3, 12, 1)


def retry_on_ast_race(parse: Any) -> Any:
    """Wrap ``ast.parse`` so that the race's SystemError is retried, not raised."""

    @functools.wraps(parse)
    def parse_retrying(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(AST_RETRIES):
            try:
                return parse(*args, **kwargs)
            except SystemError as e:
                if AST_RACE_MESSAGE not in str(e) or attempt == AST_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    parse_retrying.__livebot_ast_retry__ = True  # type: ignore[attr-defined]
    return parse_retrying


def install(*, force: bool = False) -> None:
    if (force or has_ast_race()) and not getattr(ast.parse, "__livebot_ast_retry__", False):
        ast.parse = retry_on_ast_race(ast.parse)


install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0 and not os.environ.get("LIVEBOT_ALLOW_SKIPS"):
        reporter.write_line(
            f"{skipped} test(s) skipped: every test must run here (./livebot test installs "
            "what they need); a skipped test fails the run (LIVEBOT_ALLOW_SKIPS=1 allows it)",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
