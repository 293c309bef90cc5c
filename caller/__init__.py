"""A headless WebRTC caller for livebot: what the browser page does, without a browser.

Used by the tests, the benchmarks and `./livebot call LINK` (``python -m caller``).
It is a client of the bot, not part of it: nothing in ``bot/`` imports it except the
``call`` subcommand, which hands its arguments over.
"""

from caller.audio import OutgoingAudio, ReceivedFrame, pcm_rms, resample
from caller.peer import Caller
from caller.signalling import CallerError

__all__ = ["Caller", "CallerError", "OutgoingAudio", "ReceivedFrame", "pcm_rms", "resample"]
