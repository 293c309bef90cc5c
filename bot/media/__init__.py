"""Our fixes to aiortc's and Pipecat's media behaviour, one small module each.

Each module says why it exists; `tests/media/` shows the behaviour each one changes.
`install_call_media(connection)` applies the ones a call needs to its peer connection.
"""

from __future__ import annotations

from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from bot.media.decoder import install_inline_decoder
from bot.media.jitter import install_audio_jitter_buffer
from bot.media.output import (
    flush_output,
    install_barge_in_flush,
    install_output_track,
    output_track,
)
from bot.media.renegotiation import reapply_after_renegotiation


def _install_receivers(connection: SmallWebRTCConnection) -> None:
    for transceiver in connection.pc.getTransceivers():
        if transceiver.kind == "audio":
            install_audio_jitter_buffer(transceiver.receiver)
            install_inline_decoder(transceiver.receiver)


def install_call_media(connection: SmallWebRTCConnection) -> None:
    """Apply our media fixes to one call's peer connection (after the offer is set),
    and again to the new one after a renegotiation or ICE restart."""
    _install_receivers(connection)
    install_output_track(connection)  # per connection object: survives a new pc
    reapply_after_renegotiation(connection, _install_receivers)


__all__ = ["flush_output", "install_barge_in_flush", "install_call_media", "output_track"]
