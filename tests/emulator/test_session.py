"""Tool calls, cancellation, goAway, session resumption and keepalive (pong delay)."""

from __future__ import annotations

import asyncio

import pytest
from google import genai
from google.genai import errors, types

from gemini_emulator import LiveSession, ToolStep, silent, tool_script

from .helpers import MODEL, collecting

TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="set_lights", behavior=types.Behavior.NON_BLOCKING),
            types.FunctionDeclaration(name="get_calendar"),
        ]
    )
]
RESUMABLE = types.LiveConnectConfig(tools=TOOLS, session_resumption=types.SessionResumptionConfig())


async def test_tool_call_and_responses_with_scheduling(make_emulator) -> None:  # type: ignore[no-untyped-def]
    script = tool_script(
        ToolStep(
            "set_lights",
            {"room": "kitchen", "on": True},
            when="kitchen",
            say_after=lambda r: f"Lights: {r.response['result']}",
        ),
    )
    async with make_emulator(script=script) as emu:
        client = genai.Client(api_key="k")
        config = types.LiveConnectConfig(tools=TOOLS)
        async with (
            client.aio.live.connect(model=MODEL, config=config) as session,
            collecting(session) as rx,
        ):
            await session.send_realtime_input(text="turn on the kitchen lights")
            msg = await rx.wait(lambda: next((m for m in rx.messages if m.tool_call), None))
            (fc,) = msg.tool_call.function_calls
            assert fc.name == "set_lights" and fc.args == {"room": "kitchen", "on": True}
            assert fc.id and fc.id.startswith("function-call-")
            await session.send_tool_response(
                function_responses=types.FunctionResponse(
                    id=fc.id,
                    name=fc.name,
                    response={"status": "working"},
                    will_continue=True,
                    scheduling=types.FunctionResponseScheduling.SILENT,
                )
            )
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(
                        id=fc.id,
                        name=fc.name,
                        response={"result": "on", "scheduling": "INTERRUPT"},
                    )
                ]
            )
            await rx.wait(lambda: rx.turn_completes() >= 1)
            assert rx.output_text() == "Lights: on"
        partial, final = emu.function_responses()
        assert partial.id == final.id == fc.id
        assert partial.will_continue and partial.scheduling == "SILENT"
        assert partial.scheduling_field == "SILENT" and partial.response_scheduling is None
        assert not final.will_continue and final.scheduling == "INTERRUPT"
        assert final.scheduling_field is None and final.response_scheduling == "INTERRUPT"
        assert final.known and final.connection == 0
        assert emu.session().pending_calls == {}
        # raw message kept both spellings' worth of information
        raw = emu.received_of("toolResponse")[0].raw
        assert "tool_response" in raw or "toolResponse" in raw


async def test_tool_call_cancellation_reaches_client(make_emulator) -> None:  # type: ignore[no-untyped-def]
    ids: list[str] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        ids.extend(await s.call_tools([("get_calendar", {}), ("set_lights", {"on": False})]))
        await s.cancel_tool_calls(ids[:1])

    async with make_emulator(script=script) as emu:
        client = genai.Client(api_key="k")
        async with (
            client.aio.live.connect(
                model=MODEL, config=types.LiveConnectConfig(tools=TOOLS)
            ) as session,
            collecting(session) as rx,
        ):
            await session.send_realtime_input(text="what's on today?")
            msg = await rx.wait(
                lambda: next((m for m in rx.messages if m.tool_call_cancellation), None)
            )
            calls = next(m for m in rx.messages if m.tool_call).tool_call.function_calls
            assert [c.name for c in calls] == ["get_calendar", "set_lights"]
            assert msg.tool_call_cancellation.ids == [calls[0].id] == ids[:1]
        s = emu.session()
        assert s.pending_calls == {ids[1]: "set_lights"}
        assert not [r for r in emu.function_responses() if r.id == ids[0]]


async def test_go_away_then_close_when_time_runs_out(make_emulator) -> None:  # type: ignore[no-untyped-def]
    async def script(s: LiveSession) -> None:
        await s.go_away(0.4)

    async with make_emulator(script=script) as emu:
        client = genai.Client(api_key="k")
        async with (
            client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()) as session,
            collecting(session) as rx,
        ):
            msg = await rx.wait(lambda: next((m for m in rx.messages if m.go_away), None))
            assert msg.go_away.time_left == "0.400s"
            t0 = asyncio.get_running_loop().time()
            err = await rx.wait_error(timeout=5)
            assert isinstance(err, errors.APIError) and err.code == 1011
            assert asyncio.get_running_loop().time() - t0 > 0.2
        conn = emu.connections[0]
        assert conn.closed_by == "server" and conn.close_code == 1011


async def test_session_resumption_flow(make_emulator) -> None:  # type: ignore[no-untyped-def]
    state: dict[str, object] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("hello")
        await s.next_utterance()
        old = s.connection
        state["call"] = await s.call_tool("set_lights", {"on": True})
        await s.wait_reconnect(timeout=10, after=old)
        await s.say("welcome back")

    async with make_emulator(script=script) as emu:
        client = genai.Client(api_key="k")
        async with (
            client.aio.live.connect(model=MODEL, config=RESUMABLE) as s1,
            collecting(s1) as rx1,
        ):
            first = await rx1.wait(lambda: rx1.handles())
            assert first[0].resumable and first[0].new_handle  # idle after setupComplete
            await s1.send_realtime_input(text="hi")
            await rx1.wait(lambda: rx1.turn_completes() >= 1)
            updates = await rx1.wait(lambda: len(rx1.handles()) >= 3 and rx1.handles())
            # mid-turn: not resumable, no handle; after turnComplete: a fresh handle
            assert not updates[1].resumable and not updates[1].new_handle
            assert updates[2].resumable and updates[2].new_handle not in (
                None,
                updates[0].new_handle,
            )
            i_done = next(
                i
                for i, m in enumerate(rx1.messages)
                if m.server_content and m.server_content.turn_complete
            )
            i_h = next(
                i for i, m in enumerate(rx1.messages) if m.session_resumption_update is updates[2]
            )
            assert i_h > i_done
            handle = updates[2].new_handle
            await s1.send_realtime_input(text="lights on")
            await rx1.wait(lambda: any(m.tool_call for m in rx1.messages))
            pending = await rx1.wait(lambda: len(rx1.handles()) >= 4 and rx1.handles()[3])
            assert not pending.resumable and not pending.new_handle

            # resuming while the old socket is open: the NEW socket gets 1011
            with pytest.raises(errors.APIError) as ei:
                cfg = RESUMABLE.model_copy(
                    update={"session_resumption": types.SessionResumptionConfig(handle=handle)}
                )
                async with client.aio.live.connect(model=MODEL, config=cfg):
                    pass
            assert ei.value.code == 1011
            assert emu.connections[0].open and emu.connections[1].close_code == 1011

        # old socket closed; resume from the (pre-tool-call) handle
        async with (
            client.aio.live.connect(model=MODEL, config=cfg) as s2,
            collecting(s2) as rx2,
        ):
            await rx2.wait(lambda: rx2.turn_completes() >= 1)
            assert rx2.output_text() == "welcome back"
            s = emu.session()
            assert len(emu.sessions) == 1 and emu.connections[2].session_id == s.id
            assert emu.connections[2].resumed_from == handle
            assert emu.connections[0].closed_at < emu.connections[2].setup_at
            # the stale handle predates the tool call: the session forgot it
            assert s.forgotten_call_ids == {state["call"]} and s.pending_calls == {}
            await s2.send_tool_response(
                function_responses=types.FunctionResponse(
                    id=state["call"], name="set_lights", response={"ok": True}
                )
            )
            rec = await emu.wait_for(lambda: emu.function_responses())
            assert not rec[0].known and rec[0].connection == 2

        bad = RESUMABLE.model_copy(
            update={"session_resumption": types.SessionResumptionConfig(handle="no-such-handle")}
        )
        with pytest.raises(errors.APIError) as ei:
            async with client.aio.live.connect(model=MODEL, config=bad):
                pass
        assert ei.value.code == 1008


async def test_sends_wait_for_the_resumed_socket(make_emulator) -> None:  # type: ignore[no-untyped-def]
    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        old = await s.go_away(0.2)
        await s.wait_closed(timeout=5)
        assert not old.open
        await s.say("after resume")  # waits for the new socket

    async with make_emulator(script=script) as emu:
        client = genai.Client(api_key="k")
        cfg = types.LiveConnectConfig(session_resumption=types.SessionResumptionConfig())
        async with client.aio.live.connect(model=MODEL, config=cfg) as s1, collecting(s1) as rx1:
            handle = (await rx1.wait(lambda: rx1.handles()))[-1].new_handle
            await s1.send_realtime_input(text="go")
            await rx1.wait_error()
        await asyncio.sleep(0.3)
        cfg2 = types.LiveConnectConfig(
            session_resumption=types.SessionResumptionConfig(handle=handle)
        )
        async with client.aio.live.connect(model=MODEL, config=cfg2) as s2, collecting(s2) as rx2:
            await rx2.wait(lambda: rx2.turn_completes())
            assert rx2.output_text() == "after resume"
        assert emu.session().turns[-1].connection == 1


@pytest.mark.parametrize(("ping_timeout", "survives"), [(0.5, False), (2.0, True)])
async def test_pong_delay(make_emulator, ping_timeout: float, survives: bool) -> None:  # type: ignore[no-untyped-def]
    async with make_emulator(script=silent, pong_delay=1.0) as emu:
        client = genai.Client(
            api_key="k",
            http_options=types.HttpOptions(
                async_client_args={"ping_interval": 0.2, "ping_timeout": ping_timeout}
            ),
        )
        async with (
            client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()) as session,
            collecting(session) as rx,
        ):
            try:
                await rx.wait_error(timeout=2.0)
            except TimeoutError:
                pass
            assert (rx.error is None) == survives
            if survives:
                assert session._ws.latency >= 0.9  # pongs really were delayed
            if not survives:
                assert isinstance(rx.error, errors.APIError)
                assert rx.error.code in (1006, 1011)
        assert emu.connections[0].pings >= 1
        if not survives:
            conn = await emu.wait_for(lambda: emu.connections[0].closed_at and emu.connections[0])
            assert conn.closed_by == "client" and conn.close_code in (1006, 1011)
