"""A local, protocol-faithful Gemini Live API (BidiGenerateContent) emulator.

Quick start::

    async with LiveEmulator(script=echo) as emu:
        env = client_env(emu)  # GOOGLE_GEMINI_BASE_URL + SSL_CERT_FILE for google-genai
        ...
    emu.received, emu.connections, emu.sessions, emu.setups, emu.caller_audio()

Scripts are ``async def script(s: LiveSession) -> None``; see :mod:`.session`.
"""

from .recording import (
    ConnectionRecord,
    FunctionResponseRecord,
    ReceivedRecord,
    SentRecord,
    TurnResult,
    Utterance,
)
from .scripts import SCRIPTS, ToolStep, echo, silent, tool_script
from .server import LiveEmulator
from .session import LiveSession, Script, SessionGone, resample_to_output
from .testing import client_env, running_emulator
from .tls import TlsMaterial, generate_tls, write_ca_bundle

__all__ = [
    "SCRIPTS",
    "ConnectionRecord",
    "FunctionResponseRecord",
    "LiveEmulator",
    "LiveSession",
    "ReceivedRecord",
    "Script",
    "SentRecord",
    "SessionGone",
    "TlsMaterial",
    "ToolStep",
    "TurnResult",
    "Utterance",
    "client_env",
    "echo",
    "generate_tls",
    "resample_to_output",
    "running_emulator",
    "silent",
    "tool_script",
    "write_ca_bundle",
]
