"""The call's audio formats, defined once: 16 kHz mono PCM to Gemini, 24 kHz from it.

Why: Gemini Live takes 16-bit PCM at 16 kHz and speaks at 24 kHz. The transport
resamples the caller to the first and plays the second; our decoder decodes the
caller's Opus straight to it; the Live stage labels what it sends with it and
counts held audio in it; the test kit feeds it. Each of those once had its own
literal (16000, 32000 bytes a second, 24000); they now all read these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PcmFormat:
    """Signed 16-bit little-endian PCM at `rate` Hz, `channels` interleaved."""

    rate: int
    channels: int = 1
    sample_bytes: int = 2

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.channels * self.sample_bytes

    def seconds(self, nbytes: int) -> float:
        """How long `nbytes` of this audio plays."""
        return nbytes / self.bytes_per_second

    def nbytes(self, seconds: float) -> int:
        """How many bytes `seconds` of this audio take (whole samples)."""
        return int(seconds * self.rate) * self.channels * self.sample_bytes

    @property
    def mime_type(self) -> str:
        """As Gemini Live labels realtime audio (`audio/pcm;rate=16000`)."""
        return f"audio/pcm;rate={self.rate}"


CALLER_AUDIO = PcmFormat(rate=16_000)  # what Gemini Live takes: the caller, as sent to it
BOT_AUDIO = PcmFormat(rate=24_000)  # what Gemini Live speaks: the bot, as the caller hears it


def pcm_mime_type(rate: int) -> str:
    """The realtime-input label for PCM at `rate` (a frame's own rate, normally 16 kHz)."""
    return PcmFormat(rate=rate).mime_type
