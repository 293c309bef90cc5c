"""Pipecat's Silero VAD with one ONNX session per process, each call its own state.

Why: `SileroVADAnalyzer()` opens a new onnxruntime `InferenceSession` in its
constructor, and a call's pipeline is built on the event loop: measured 110-250 ms of
the loop and ~9.7 MiB per call at each join (the same gap every call in progress
hears that `bot/call.py` keeps Smart Turn out for). The session holds only the model's
weights: Silero's recurrent state and audio context live on Pipecat's
`SileroOnnxModel` wrapper and go in and out of each `run` (thread-safe in
onnxruntime; each analyzer runs in its own thread, as Pipecat's do). So each call
gets a copy of the wrapper with fresh state, over the one session, loaded once.

Imported only with `LIVE_TURN_DETECTION=local` (`local_turns.py`): a server-detection
bot never loads onnxruntime for it.
"""

from __future__ import annotations

import copy
import threading

from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

_lock = threading.Lock()
_template: SileroOnnxModel | None = None


def _shared_model() -> SileroOnnxModel:
    """The process's Silero model (loaded on first use: Pipecat's file and options)."""
    global _template
    with _lock:
        if _template is None:
            _template = SileroVADAnalyzer()._model
        return _template


def warm_up() -> None:
    """Load the shared session now (at start), not in the first caller's join."""
    _shared_model()


class SharedSileroVAD(SileroVADAnalyzer):
    """A call's Silero VAD: Pipecat's analyzer over the shared session."""

    def __init__(self, *, params: VADParams | None = None) -> None:
        VADAnalyzer.__init__(self, params=params)  # not Silero's: it opens a session
        self._model = copy.copy(_shared_model())  # the one session, this call's state
        self._model.reset_states()
        # What SileroVADAnalyzer.__init__ sets besides its model (a test compares them).
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
