"""Every private member of Pipecat 1.14's `GeminiLiveLLMService` our stage touches, and why.

Why this list: Pipecat's Live service has few public seams for what a call needs
(tool results with per-result scheduling, goAway, recovery, holding input during a
move), so the stage (`stage.py`, `vertex.py`) overrides or reads some private
members. A Pipecat upgrade is then a checklist: read each entry's code in the new
version; `tests/unit/test_pipecat_seams.py` fails when one is gone. Public seams we
use (no entry needed): `create_client`, `process_frame`, `cleanup`,
`register_function`, `run_function_calls`, `push_error`, `push_frame`,
`create_task`, `cancel_task`.
"""

from __future__ import annotations

OVERRIDDEN: dict[str, str] = {
    "_tag_tool_behaviors": "each tool's BLOCKING/NON_BLOCKING comes from our registry, "
    "not from how its handler was registered",
    "_send_user_audio": "caller audio goes through our one outbound queue (held during a move)",
    "_send_user_text": "typed text goes through the same queue",
    "_handle_function_call_result": "closed: Pipecat would send a result when its frame "
    "comes back through push_frame; the ledger has sent it, with its scheduling",
    "_tool_result": "closed: Pipecat re-sends results it finds in the context (and forgets "
    "what it answered on disconnect); the ledger sends each once",
    "_handle_server_message": "transcripts, toolCallCancellation, turn order for the guard, "
    "resumable handles and goAway, around Pipecat's own dispatch",
    "_handle_msg_tool_call": "the ledger starts (and de-duplicates) each call before Pipecat runs it",
    "_handle_interruption": "barge-in also stops the tools that asked for it, with a result",
    "_connection_task_handler": "a lost socket is recovered (session_moves), not fatal "
    "after three tries",
    "_handle_session_ready": "after setupComplete: deliver what was held during a move",
    "_create_initial_response": "a fresh session after a lost one is seeded with a summary, "
    "not the whole history, and no second greeting",
    "_disconnect": "no more moves once the stage disconnects for good",
    "_connect": "each setup declares the call's tools as they are now (tool_updates.py); "
    "a move opens the new socket through it, as Pipecat does",
    "_get_history_config": "Vertex AI refuses history_config (vertex.py)",
    "_supports_non_blocking_tools": "the model table says which models take NON_BLOCKING (models.py)",
    "_handle_user_started_speaking": "local turn detection: Pipecat sends activityStart and "
    "its pre-roll while input flows; during a move they wait in the outbound queue "
    "(local_turns.TurnMarks)",
    "_handle_user_stopped_speaking": "the same for activityEnd; the stall watch is told",
}

USED: dict[str, str] = {
    "_session": "the socket the outbound queue sends on; cleared when a move drops it",
    "_connection_task": "the old socket's receive loop, stopped when a move drops it",
    "_ready_for_realtime_input": "realtime input waits for setup (and seeding); a move resets it",
    "_disconnecting": "nothing is sent or moved while the stage shuts down",
    "_bot_is_responding": "a goAway move waits for the bot's turn to end",
    "_session_resumption_handle": "a move resumes with it; a fresh start clears it",
    "_audio_input_paused": "Pipecat's pause (set_audio_input_paused has no getter)",
    "_client": "set by create_client (one shared client); the receive loop connects with it",
    "_http_options": "the shared client's key",
    "_settings": "the model the receive loop connects to",
    "_context": "the context Pipecat's function calls carry",
    "_connection_start_time": "kept as Pipecat's receive loop keeps it",
    "_tools_from_init": "the setup's tools: rebuilt from the call's tools before each connect",
    "_cancel_function_call_tasks": "stops exactly the cancelled calls' handlers",
    "_handle_send_error": "a failed realtime send is reported as Pipecat reports it",
    "_vad_disabled": "local turn detection: Pipecat sends activityStart/End; no audioStreamEnd",
    "_user_is_speaking": "local turn detection: audio outside a turn goes to Pipecat's "
    "pre-roll (its own _send_user_audio), not out; set as Pipecat does during a move",
    "_user_audio_preroll_buffer": "the pre-roll Pipecat sends after activityStart: kept to "
    "send again after a move (TurnMarks)",
    "_user_audio_preroll_buffer_sample_rate": "its rate",
    "_is_gemini_3": "a stall nudge on a 3.x model needs a realtime input too (stall_watch.py)",
}

ALL = {**OVERRIDDEN, **USED}
