"""What the emulated service refuses in a `setup`, by the model the setup names.

Written from Google's model pages and what users report of the real service, not from
what livebot sends (the emulator imports nothing from `bot/`): a setup carrying a
field its model does not accept is closed before `setupComplete`, as the service does,
so a client that sends one fails its tests.

- Gemini 3.8 Live (ai.google.dev/gemini-api/docs/models/gemini-3.8-live): "omit
  thinking_level (or thinking_config)"; affective dialog "removed from the API";
  "setting proactive_audio: false returns an error"; BLOCKING and NON_BLOCKING
  declarations both accepted; "the supported response modality is audio".
- Gemini 3.8 Live thinking variants (…/gemini-3.8-live-extended-thinking): function
  calling "Supported (Async only)": a BLOCKING declaration is refused; a thinking level
  is required (Pipecat: "the API has no default and rejects a setup without one");
  thinkingBudget is the 2.5 control, not theirs.
- Gemini 3.1 Flash Live (…/gemini-3.1-flash-live-preview): thinkingLevel, not
  thinkingBudget; no asynchronous function calling (NON_BLOCKING refused); proactive
  audio and affective dialog "not yet supported… remove any configuration".
- Gemini 2.5 native audio: thinkingBudget, not thinkingLevel; affective dialog and
  proactivity exist only on the v1alpha surface: elsewhere 1007 `Invalid JSON payload
  received. Unknown name "enableAffectiveDialog" at 'setup.generation_config': Cannot
  find field.` (google-gemini/cookbook#775, googleapis/python-genai#865).
- Half-cascade (`gemini-live-2.5-flash`, `gemini-2.0-flash-live-*`): no thinking, no
  affective dialog, no proactivity.

A model id the emulator does not know gets no rules (tests use made-up ids). Close
codes: 1007 (INVALID_ARGUMENT) for every refusal, as the service reports bad fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import protocol as P

__all__ = ["refusal"]


@dataclass(frozen=True)
class _Rules:
    family: str
    thinking: str  # "none", "budget", "level", "level-required"
    affective: str  # "no", "removed", "v1alpha"
    proactive: str  # "no", "always-on", "v1alpha"
    blocking: bool = True
    non_blocking: bool = True
    audio_only: bool = False


_RULES: tuple[tuple[re.Pattern[str], _Rules], ...] = (
    (
        re.compile(r"^gemini-3\.8-live.*thinking"),
        _Rules(
            "gemini-3.8-live thinking",
            "level-required",
            "removed",
            "always-on",
            blocking=False,
            audio_only=True,
        ),
    ),
    (
        re.compile(r"^gemini-3\.8-live"),
        _Rules("gemini-3.8-live", "none", "removed", "always-on", audio_only=True),
    ),
    (
        re.compile(r"^gemini-3\.1-flash-live"),
        _Rules("gemini-3.1-flash-live", "level", "no", "no", non_blocking=False),
    ),
    (
        re.compile(r"^gemini-2\.5-flash.*native-audio"),
        _Rules("gemini-2.5 native audio", "budget", "v1alpha", "v1alpha"),
    ),
    (
        re.compile(r"^gemini-live-2\.5-flash|^gemini-2\.0-flash-live"),
        _Rules("half-cascade", "none", "no", "no"),
    ),
)


def _unknown_name(name: str, where: str) -> P.ProtocolError:
    return P.ProtocolError(
        P.CLOSE_INVALID_ARGUMENT,
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field.",
    )


def _invalid(what: str) -> P.ProtocolError:
    return P.ProtocolError(
        P.CLOSE_INVALID_ARGUMENT, f"Request contains an invalid argument. {what}"
    )


def refusal(setup: dict[str, Any], api_version: str | None) -> P.ProtocolError | None:
    """Why the service would close this (camelCase) setup before `setupComplete`, or None."""
    model = str(setup.get("model") or "")
    bare = model.rsplit("/", 1)[-1]
    rules = next((r for pattern, r in _RULES if pattern.search(bare)), None)
    if rules is None:
        return None
    gen = setup.get("generationConfig") or {}
    modalities = gen.get("responseModalities") or setup.get("responseModalities") or []
    if rules.audio_only and any(str(m).upper() != "AUDIO" for m in modalities):
        return _invalid(f"{model} supports the AUDIO response modality only.")
    thinking = gen.get("thinkingConfig") or setup.get("thinkingConfig")
    if rules.thinking == "none" and thinking is not None:
        return _invalid(
            f"Thinking is not configurable in {model}; remove the thinking_config setting."
        )
    thinking = thinking or {}
    if "thinkingBudget" in thinking and rules.thinking != "budget":
        return _invalid(f"thinking_budget is not supported by {model}; use thinking_level.")
    if "thinkingLevel" in thinking and rules.thinking == "budget":
        return _invalid(f"thinking_level is not supported by {model}; use thinking_budget.")
    if rules.thinking == "level-required" and not thinking.get("thinkingLevel"):
        return _invalid(f"{model} requires thinking_config.thinking_level.")

    affective = gen.get("enableAffectiveDialog", setup.get("enableAffectiveDialog"))
    if affective is not None and (
        rules.affective in ("no", "removed")
        or (rules.affective == "v1alpha" and api_version != "v1alpha")
    ):
        return _unknown_name("enableAffectiveDialog", "setup.generation_config")
    proactivity = setup.get("proactivity")
    if proactivity is not None:
        if rules.proactive == "no" or (rules.proactive == "v1alpha" and api_version != "v1alpha"):
            return _unknown_name("proactivity", "setup")
        if rules.proactive == "always-on" and proactivity.get("proactiveAudio") is False:
            return _invalid(f"proactive_audio cannot be false for {model}: it is always on.")

    for tool in setup.get("tools") or []:
        for decl in (tool or {}).get("functionDeclarations") or []:
            behavior = decl.get("behavior")
            if behavior == "BLOCKING" and not rules.blocking:
                return _invalid(
                    f"Function {decl.get('name')!r}: {model} supports asynchronous "
                    "(NON_BLOCKING) function calling only."
                )
            if behavior == "NON_BLOCKING" and not rules.non_blocking:
                return _invalid(
                    f"Function {decl.get('name')!r}: {model} does not support asynchronous "
                    "(NON_BLOCKING) function calling."
                )
    return None
