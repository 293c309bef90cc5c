"""Typed reads of settings from the environment, collecting every problem.

Shared by the bot's settings and by tool packages, so every misconfiguration
is reported the same way: the variable, its bad value, and what to set it to.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)


class EnvReader:
    """Reads typed values from a mapping and remembers every problem.

    The methods are named after the types they read, so inside the class `str` is
    the method: annotations after it say `builtins.str`.
    """

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def int(self, name: builtins.str, default: int | None, *, lo: int, hi: int) -> int | None:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a whole number: set it to {lo}..{hi}.")
            return default
        if not lo <= value <= hi:
            self.problems.append(f"{name}={value} is out of range: set it to {lo}..{hi}.")
            return default
        return value

    def float(self, name: builtins.str, default: float, *, lo: float, hi: float) -> float:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a number: set it to {lo}..{hi}.")
            return default
        if not lo <= value <= hi:
            self.problems.append(f"{name}={value} is out of range: set it to {lo}..{hi}.")
            return default
        return value

    def bool(self, name: builtins.str, default: bool) -> bool:
        raw = self.str(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={raw!r} is not a yes/no value: set it to true or false.")
        return default

    def choice(self, name: builtins.str, enum: type[_E], default: _E | None) -> _E | None:
        raw = self.str(name)
        if raw is None:
            return default
        for member in enum:
            if raw.lower() == member.value.lower():
                return member
        allowed = ", ".join(m.value for m in enum)
        self.problems.append(f"{name}={raw!r} is not allowed: set it to one of {allowed}.")
        return default
