"""A sample tool package using every parameter type `@tool` declares (for the golden test).

It uses `from __future__ import annotations`, as a tool developer's module may:
every annotation is then a string that `@tool` resolves.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from tools.api import CallContext, Tool, tool


class Mood(StrEnum):
    """How the trip should feel."""

    CALM = "calm"
    BUSY = "busy"


class Stars(IntEnum):
    ONE = 1
    THREE = 3
    FIVE = 5


class Stop(BaseModel):
    """One stop on the way."""

    city: Annotated[str, Field(description="City name")]
    nights: Annotated[int, Field(ge=1, le=30, description="Nights there")] = 1
    arrive: dt.date | None = None


def sample_tools() -> list[Tool]:
    """The tools, built inside a function as a package's `toolset()` builds them."""

    class Budget(BaseModel):  # a local model, visible only in this function
        amount: Annotated[float, Field(gt=0, description="How much")]
        currency: Literal["EUR", "USD"] = "EUR"

    @tool
    async def plan_trip(
        title: Annotated[str, Field(min_length=1, max_length=80)],
        travellers: Annotated[int, Field(gt=0, lt=10)],
        speed_kmh: Annotated[float, Field(ge=0, lt=300.5, multiple_of=0.5)],
        mood: Mood,
        stars: Stars,
        seat: Literal[1, 2, 3],
        window: Literal["aisle", "window"],
        day: dt.date,
        departs: dt.datetime,
        wake_at: dt.time,
        stay: dt.timedelta,
        booking: UUID,
        budget: Budget,
        stops: Annotated[list[Stop], Field(min_length=1, max_length=5)],
        where: tuple[float, float],
        tags: set[str] = set(),  # noqa: B006 (a pydantic default, copied per call)
        flexible: bool = False,
        note: str | None = None,
        code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CDG"])] = "CDG",
    ) -> dict:
        """Plan a trip.

        Several lines of description
        stay in the description.

        Args:
            title: The trip's name.
            travellers: How many people go.
            speed_kmh: Cruising speed.
            mood: How it should feel.
            stars: Hotel stars.
            seat: Seat class.
            window: Where to sit.
            day: The day it starts.
            departs: When the train leaves.
            wake_at: When to wake up.
            stay: How long the stay is.
            booking: The booking number.
            budget: What it may cost.
            stops: Stops on the way.
            where: Latitude and longitude of the start.
            tags: Free labels.
            flexible: Whether dates may move.
            note: Anything else.
            code: Airport code.

        Returns:
            the plan as a dict.
        """
        return {"title": title}

    @tool
    async def ping() -> str:
        """Check the tool runs; takes no parameters."""
        return "pong"

    @tool
    def convert(amount: float, currency: str = "EUR") -> dict:
        """Convert money (a plain function: runs in a worker thread).

        Parameters
        ----------
        amount
            How much money.
        currency
            ISO 4217 code of the target currency.
        """
        return {"amount": amount, "currency": currency}

    @tool
    async def remember(fact: str, call: CallContext | None = None) -> str:
        """Remember a fact for this call.

        :param fact: What to remember.
        """
        return fact

    @tool(
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            "required": ["query"],
        }
    )
    async def search(raw: dict[str, Any]) -> dict:
        """Search with a hand-written schema (raw arguments)."""
        return {"query": raw["query"], "limit": raw.get("limit", 5)}

    return [plan_trip, ping, convert, remember, search]
