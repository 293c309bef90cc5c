"""What one tool call comes back as, and when the model takes it up.

The words a handler and the Live stage share about a call: how the model waits
for a tool (`Behavior`), when it takes up a result (`Scheduling`), what a handler
may return (`Result`) or raise (`ToolError`), and the one `Outcome` each call ends
in. They live apart from `Tool` so that the stage, its tool-call bookkeeping and
tests can speak of outcomes without the declaration machinery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class Behavior(StrEnum):
    """Whether the model waits for the tool (BLOCKING) or talks on while it runs."""

    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"


class Scheduling(StrEnum):
    """When the model takes up a NON_BLOCKING tool's result."""

    INTERRUPT = "INTERRUPT"  # at once, cutting off what it is saying
    WHEN_IDLE = "WHEN_IDLE"  # when it finishes what it is saying
    SILENT = "SILENT"  # take it in without saying anything


@dataclass(frozen=True)
class Result:
    """A handler's return value with its own scheduling, overriding the tool's default."""

    value: Any
    scheduling: Scheduling | None = None


class ToolError(Exception):
    """A failure the model should hear about; the message is what it is told."""


@dataclass(frozen=True)
class Outcome:
    """What goes back to the model for one call: the response and its scheduling."""

    response: dict[str, Any]
    scheduling: Scheduling
    ok: bool


def as_response(value: Any) -> dict[str, Any]:
    """A handler's value as Gemini's FunctionResponse.response, which must be a JSON
    object; raises TypeError/ValueError if it is not JSON (or holds NaN/infinity)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    json.dumps(value, allow_nan=False)  # raises TypeError/ValueError on non-JSON
    if isinstance(value, dict):
        return value
    return {"result": value}
