"""The ticket follows its call through ICE restarts and renegotiations (what the page does
after an ICE failure: a new peer connection offered with `restart_pc`), and Pipecat's
connection map keeps one key per call. Before: the restart answer's new pc_id was not
bound to the ticket, so the page's trickled candidates got 403, a second restart got 403,
and 5 restarts left 6 keys in the map, still there after hang-up."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.settings import LiveSettings
from caller import Caller
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record, speak_and_hear

pytestmark = pytest.mark.timeout(150)

NO_GREETING = LiveSettings(api_key="test-key", greeting=None)
RESTARTS = 5


def patch_body(pc_id: str, candidates: list[str]) -> dict:
    return {
        "pc_id": pc_id,
        "candidates": [{"candidate": c, "sdp_mid": "0", "sdp_mline_index": 0} for c in candidates],
    }


async def test_the_ticket_follows_its_call_through_ice_restarts(tmp_path, speech):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            call_id = caller.pc_id
            auth = {"Authorization": f"Bearer {caller.joined['ticket']}"}
            await caller.renegotiate()  # a plain renegotiation keeps the pc_id
            assert caller.pc_id == call_id
            pc_ids, keys, patches, old_patches = [call_id], [], [], []
            for _ in range(RESTARTS):
                await caller.renegotiate(restart=True)
                assert caller.pc_id not in pc_ids
                pc_ids.append(caller.pc_id)
                # The page trickles its new connection's candidates: taken.
                local = caller.pc.localDescription.sdp.splitlines()
                lines = [ln[2:] for ln in local if ln.startswith("a=candidate:")]
                r = await http.patch(
                    "/api/offer", json=patch_body(caller.pc_id, [*lines, ""]), headers=auth
                )
                patches.append(r.status_code)
                # Candidates for a replaced connection are refused, and say why.
                r = await http.patch("/api/offer", json=patch_body(pc_ids[-2], []), headers=auth)
                old_patches.append((r.status_code, r.json()["reason"]))
                keys.append(len(bot.connections.pc_ids))
                await caller.renegotiate()  # and a plain renegotiation after each restart
            assert patches == [204] * RESTARTS
            assert old_patches == [(409, "replaced")] * RESTARTS
            assert keys == [1] * RESTARTS and bot.connections.pc_ids == [caller.pc_id]
            # One call all along, and it still works both ways.
            assert list(bot.calls.calls) == [call_id]
            await speak_and_hear(caller, emu, speech("still here after five restarts"))
            # A restart offered for an old pc_id is refused.
            r = await http.post(
                "/api/offer",
                json={"sdp": caller.pc.localDescription.sdp, "type": "offer", "pc_id": call_id},
                headers=auth,
            )
            assert (r.status_code, r.json()["reason"]) == (409, "replaced")
        # Hang-up: the call ends and the map is empty.
        async with asyncio.timeout(20):
            while bot.calls.calls or bot.connections.pc_ids:
                await asyncio.sleep(0.1)
        keys_after = len(bot.connections.pc_ids)
        # The ended call's ticket opens nothing any more.
        r = await http.patch("/api/offer", json=patch_body(caller.pc_id, []), headers=auth)
        assert r.status_code in (403, 404), r.text
    record(
        "ice_restarts",
        restarts=RESTARTS,
        trickle_patches=patches,
        map_keys_after_each_restart=keys,
        map_keys_after_hangup=keys_after,
    )


async def test_candidates_trickled_under_the_old_pc_id_reach_the_new_connection(tmp_path):
    """What the page does: a restarted connection's candidates go out under the old pc_id
    until the answer is back; they carry the new offer's ufrag, which decides."""
    from tests.signalling.test_candidates import trickle_offer

    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        old_pc_id, auth = caller.pc_id, {"Authorization": f"Bearer {caller.joined['ticket']}"}
        old_ufrag = caller.pc.localDescription.sdp.split("a=ice-ufrag:")[1].split()[0]
        pc, sdp = await trickle_offer()
        ufrag = sdp.split("a=ice-ufrag:")[1].split()[0]
        mine = [
            f"candidate:{n} 1 udp {2130706431 - n} 127.0.0.1 {40000 + n} typ host ufrag {ufrag}"
            for n in range(3)
        ]
        # Before the restart offer: held for it (the pc_id is the call's, the ufrag is new).
        r = await http.patch("/api/offer", json=patch_body(old_pc_id, mine[:2]), headers=auth)
        assert r.status_code == 204, r.text
        r = await http.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer", "pc_id": old_pc_id, "restart_pc": True},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        new_pc_id = r.json()["pc_id"]
        # After it, still under the old pc_id: added to the new connection at once.
        r = await http.patch("/api/offer", json=patch_body(old_pc_id, mine[2:]), headers=auth)
        assert r.status_code == 204, r.text
        # The old connection's late candidates (its ufrag) are dropped, not added anywhere.
        late = f"candidate:9 1 udp 1 127.0.0.1 40009 typ host ufrag {old_ufrag}"
        r = await http.patch("/api/offer", json=patch_body(new_pc_id, [late]), headers=auth)
        assert r.status_code == 204, r.text
        connection = bot.connections.connection(new_pc_id)
        agent = connection.pc.getTransceivers()[0].receiver.transport.transport._connection
        ports = sorted(c.port for c in agent.remote_candidates)
        assert ports == [40000, 40001, 40002], ports
        await pc.close()
    record("early_candidates", added_to_new_connection=ports, stale_dropped=1)
