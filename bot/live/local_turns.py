"""Who decides the caller's turns (`LIVE_TURN_DETECTION`): Gemini, or a local VAD.

`server` (the default): Gemini's automatic activity detection hears the turns. The
user aggregator gets `ExternalUserTurnStrategies` and no VAD: Pipecat's default
strategies would load the Smart Turn ONNX model in every call's constructor (65-80 ms
of the event loop at each join, ~8 MiB a call) for an analyser that never runs here.

`local`: the setup says `realtimeInputConfig.automaticActivityDetection.disabled`
(`client.py`) and Pipecat's Silero VAD decides the turns, at Pipecat's own seams:

- the user aggregator runs Silero (`vad_analyzer`) with VAD turn strategies: speech
  for `LIVE_VAD_PREFIX_PADDING_MS` (default 200) starts a turn
  (`UserStartedSpeakingFrame`); quiet for `LIVE_VAD_SILENCE_MS` (default 800) ends it
  (`UserStoppedSpeakingFrame`: Silero's 0.2 s stop, then the rest as Pipecat's speech
  timeout, in which the caller may go on);
- Pipecat's service turns those frames into `activityStart` / `activityEnd` (its
  `_vad_disabled` path) and keeps the audio outside a turn as a pre-roll, sent just
  after `activityStart` so the onset Silero needed to decide is not clipped (the stage
  hands such frames to Pipecat's `_send_user_audio`; `preroll_seconds`);
- no local interruption: barge-in stays Gemini's decision, as with server detection.
  `activityStart` over the bot's answer interrupts it on the service
  (START_OF_ACTIVITY_INTERRUPTS, the default), its `interrupted` silences the
  caller's speaker through the stage's usual path, and with
  `LIVE_ACTIVITY_HANDLING=NO_INTERRUPTION` the bot talks on, as that setting says;
- no `audioStreamEnd` (Google: "only ... when automatic activity detection is
  enabled"; `audio_stream_end.py`); the stall watch follows the marks (the caller
  speaks from `activityStart` to `activityEnd`), not its own energy detection;
- a session move (goAway, a drop) must not lose the turn: `TurnMarks` lets Pipecat
  send the marks while input flows and puts them (and the pre-roll) in the replay log,
  so the new socket hears `activityStart` before the audio it gets again; during the
  move and its catch-up the marks wait in the outbound queue, in order with the audio.

Silero runs only with `local`, over one ONNX session per process (`shared_silero.py`,
loaded at start by its `warm_up`): a session per call cost 110-250 ms of the event
loop and ~9.7 MiB at each join; what a join costs now is in RELIABILITY.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from bot.live.outbound import Activity, Audio, Outbound

if TYPE_CHECKING:
    from bot.live.audio_stream_end import AudioStreamEnd
    from bot.live.stall_watch import StallWatch
    from bot.live_settings import LiveSettings

START_SECONDS = 0.2  # speech before a turn starts (Pipecat's VAD default)
STOP_SECONDS = 0.2  # Silero's own stop (Pipecat's default); the rest is the speech timeout
END_SILENCE_SECONDS = 0.8  # quiet that ends a turn, as Pipecat's 0.2 s + 0.6 s default
PREROLL_MARGIN_SECONDS = 0.3  # kept before the decided start, beyond START_SECONDS


def preroll_seconds(live: LiveSettings) -> float | None:
    """The audio kept before `activityStart`: the speech Silero needed to decide, and
    what it heard late (a soft onset scores low at first). Measured on espeak speech
    with Pipecat's own sizing (start + 0.1 s): 0.1 s of the first word was cut."""
    if live.turn_detection != "local":
        return None  # unused: Pipecat keeps no pre-roll with Gemini's detection
    return _start_seconds(live) + PREROLL_MARGIN_SECONDS


def _start_seconds(live: LiveSettings) -> float:
    padding = live.vad.prefix_padding_ms
    return padding / 1000 if padding is not None else START_SECONDS


def caller_turns(live: LiveSettings) -> LLMUserAggregatorParams:
    """The user aggregator's parameters for `live.turn_detection` (see the module doc)."""
    if live.turn_detection != "local":
        return LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies())
    # Imported here: with server detection not even the module (and onnxruntime) loads.
    from pipecat.audio.vad.vad_analyzer import VADParams
    from pipecat.turns.user_start import VADUserTurnStartStrategy
    from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    from bot.live.shared_silero import SharedSileroVAD

    quiet = live.vad.silence_duration_ms
    silence = quiet / 1000 if quiet is not None else END_SILENCE_SECONDS
    stop = min(STOP_SECONDS, silence)
    params = VADParams(start_secs=_start_seconds(live), stop_secs=stop)
    return LLMUserAggregatorParams(
        vad_analyzer=SharedSileroVAD(params=params),
        user_turn_strategies=UserTurnStrategies(
            start=[VADUserTurnStartStrategy(enable_interruptions=False)],
            stop=[
                SpeechTimeoutUserTurnStopStrategy(
                    user_speech_timeout=silence - stop, wait_for_transcript=False
                )
            ],
        ),
    )


PipecatHandler = Callable[[Any], Awaitable[None]]


class TurnMarks:
    """activityStart / activityEnd in order with the caller's audio, across moves."""

    def __init__(
        self, stage: Any, outbound: Outbound, watch: StallWatch, stream_end: AudioStreamEnd
    ) -> None:
        self._stage = stage  # the Live stage: Pipecat's turn state (pipecat_seams.py)
        self._outbound = outbound
        self._watch = watch
        if stage._vad_disabled:  # local: the marks decide, not a pause or our detection
            stream_end.on = False
            watch.turns_from_marks()

    async def started(self, pipecat: PipecatHandler, frame: Any) -> None:
        """The caller's turn began (Silero): `activityStart`, then the pre-roll; the
        stall watch waits while the caller speaks."""
        stage = self._stage
        if not stage._vad_disabled:
            return await pipecat(frame)
        self._watch.caller_turn_started()
        preroll = bytes(stage._user_audio_preroll_buffer)
        rate = stage._user_audio_preroll_buffer_sample_rate
        if self._outbound.flowing:
            index = getattr(stage.session, "sent", None)  # the numbering session's next
            await pipecat(frame)  # Pipecat sends activityStart and the pre-roll itself
            self._outbound.sent_elsewhere(Activity(True), index)
            if preroll and rate and index is not None:
                self._outbound.sent_elsewhere(Audio(preroll, rate), index + 1)
            return
        stage._user_is_speaking = True  # what Pipecat's handler sets; the rest waits here
        stage._user_audio_preroll_buffer = bytearray()
        await self._outbound.activity(True)
        if preroll and rate:
            await self._outbound.audio(preroll, rate)

    async def stopped(self, pipecat: PipecatHandler, frame: Any) -> None:
        """The caller's turn ended (Silero): `activityEnd`; the stall watch is told."""
        stage = self._stage
        if not stage._vad_disabled:
            return await pipecat(frame)
        if self._outbound.flowing:
            index = getattr(stage.session, "sent", None)
            await pipecat(frame)  # Pipecat sends activityEnd itself
            self._outbound.sent_elsewhere(Activity(False), index)
        else:  # what Pipecat's handler sets; the mark waits with the audio
            stage._user_is_speaking = False
            stage._user_audio_preroll_buffer = bytearray()
            await stage.start_ttfb_metrics()
            await self._outbound.activity(False)
        self._watch.caller_turn_ended()
