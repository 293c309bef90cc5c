"""Our fixes to aiortc's and Pipecat's media behaviour, one small module each.

Each module says why it exists; `tests/media/` shows the behaviour each one changes.
`install_call_media(connection)` applies the ones a call needs to its peer connection.
"""

from __future__ import annotations

from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from bot.media.jitter import install_audio_jitter_buffer


def install_call_media(connection: SmallWebRTCConnection) -> None:
    """Apply our media fixes to one call's peer connection (after the offer is set)."""
    for transceiver in connection.pc.getTransceivers():
        if transceiver.kind == "audio":
            install_audio_jitter_buffer(transceiver.receiver)


__all__ = ["install_call_media"]
