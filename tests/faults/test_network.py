"""Network faults between a real aiortc caller and the bot: loss, a blackout, a caller who
vanishes. Faults are injected on the caller's own ICE sockets (`testkit.netfault`): every
datagram either way (STUN, DTLS, SRTP, SCTP) may be dropped; the bot sees a bad network.

Each test checks the call survives as the *same* call (same peer connection, same Live
socket, no restart) and that speech still flows both ways after the fault: the emulator
(echo script) detects the caller's utterances and its echo reaches the caller.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.settings import LiveSettings
from caller import Caller
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from testkit.netfault import NetFault
from tests.faults.helpers import record, speak_and_hear, utterances

pytestmark = pytest.mark.timeout(120)

NO_GREETING = LiveSettings(api_key="test-key", greeting=None)
PHRASES = [
    "turn on the kitchen lights",
    "what is on my calendar tomorrow",
    "set the bedroom to fifty percent",
    "thank you that is all",
]


def assert_same_call(bot, emu, caller: Caller) -> None:
    """One call, on the caller's original peer connection, on its first Live socket."""
    assert list(bot.calls.calls) == [caller.pc_id]
    assert caller.pc.connectionState == "connected"
    assert len(emu.connections) == 1 and emu.connections[0].open, "the Live socket was replaced"
    assert bot.calls.calls[caller.pc_id].stage.reconnects == 0


@pytest.mark.parametrize("loss", [0.02, 0.05])
async def test_a_call_survives_packet_loss_both_ways(tmp_path, speech, loss):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await speak_and_hear(caller, emu, speech("hello can you hear me"))
        fault = NetFault.attach(caller.pc, seed=7)
        fault.loss = loss
        before = utterances(emu)
        latencies = [await speak_and_hear(caller, emu, speech(p)) for p in PHRASES]
        fault.loss = 0
        assert utterances(emu) - before == len(PHRASES), "each phrase was one utterance"
        assert_same_call(bot, emu, caller)
        # The lossy link really was lossy, both ways.
        stats = fault.stats
        assert stats.sent > 500 and stats.received > 500
        assert 0.4 * loss < stats.sent_dropped / stats.sent < 2.5 * loss
        assert 0.4 * loss < stats.received_dropped / stats.received < 2.5 * loss
        record(
            f"loss_{round(loss * 100)}pct",
            utterances_detected=f"{utterances(emu) - before}/{len(PHRASES)}",
            dropped=str(stats),
            detect_s=[round(d, 2) for d, _ in latencies],
            echo_s=[round(e, 2) for _, e in latencies],
            live_sockets=len(emu.connections),
        )


async def test_a_call_survives_a_three_second_blackout(tmp_path, speech):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await speak_and_hear(caller, emu, speech("hello can you hear me"))
        fault = NetFault.attach(caller.pc, seed=3)
        # The caller keeps talking into the void; the bot hears nothing for 3 s.
        await caller.play_wav(speech("this part is lost in the tunnel"))
        async with fault.blackout(3.0):
            pass
        ended = time.monotonic()
        blackout_drops = fault.stats.sent_dropped + fault.stats.received_dropped
        assert fault.stats.sent_dropped > 100 and fault.stats.received_dropped > 0
        await asyncio.sleep(1.0)  # whatever was mid-flight settles
        before = utterances(emu)
        detect, echo = await speak_and_hear(caller, emu, speech("are you still there"))
        assert utterances(emu) > before
        assert caller.first_audio_at(after=ended) is not None
        assert_same_call(bot, emu, caller)
        record(
            "blackout_3s",
            dropped_during_blackout=blackout_drops,
            after_blackout_detect_s=round(detect, 2),
            after_blackout_echo_s=round(echo, 2),
            same_pc=True,
            live_sockets=len(emu.connections),
        )


async def test_a_vanished_caller_is_hung_up_within_ten_seconds(tmp_path, speech):
    """Lid closed: the caller's packets stop, no goodbye. The bot ends the call and closes
    the Live session well before ICE consent expiry (~30 s) would notice."""
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await speak_and_hear(caller, emu, speech("hello"))
        live = emu.connections[0]
        assert live.open
        fault = NetFault.attach(caller.pc, seed=1)
        fault.outgoing_loss = 1.0  # nothing the caller sends arrives any more
        vanished = time.monotonic()
        async with asyncio.timeout(15):
            while live.closed_at is None:
                await asyncio.sleep(0.05)
        closed_after = live.closed_at - vanished
        async with asyncio.timeout(5):
            while bot.calls.calls:
                await asyncio.sleep(0.05)
        call_ended_after = time.monotonic() - vanished
        assert closed_after < 10.0, f"Live session closed {closed_after:.1f} s after"
        assert live.closed_by == "client" and len(emu.connections) == 1
        async with httpx.AsyncClient(base_url=bot.url) as http:
            metrics = (await http.get("/metrics")).text
        assert 'livebot_calls_total{outcome="caller_gone"} 1.0' in metrics
        record(
            "vanished_caller",
            caller_gone_seconds=6,
            live_session_closed_after_s=round(closed_after, 2),
            call_ended_after_s=round(call_ended_after, 2),
            close_code=live.close_code,
        )


async def test_a_silent_or_muted_caller_is_not_cut_off(tmp_path, speech):
    """Silence (or a muted mic, which sends silent frames) is not absence."""
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await speak_and_hear(caller, emu, speech("hello"))
        await asyncio.sleep(9.0)  # 1.5x CALLER_GONE_SECONDS of pure silence
        assert_same_call(bot, emu, caller)
        await speak_and_hear(caller, emu, speech("I am back"))
        assert_same_call(bot, emu, caller)
