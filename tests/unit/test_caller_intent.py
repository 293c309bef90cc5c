"""The caller-intent guard's rules, one by one, on timelines written out by hand.

Each test plays a call as the Live stage reports it: `caller()` (transcribed speech,
typed text or a barge-in), `model_turn_ended()`, `tool_text()` (a tool result the
model received) and `mark()` (a toolCall arrived).
"""

from __future__ import annotations

from bot.live.caller_intent import (
    MAX_EVENTS,
    CallerIntent,
    Refusal,
    Verdict,
    call_key,
    explain,
)

OFF = {"on": False}
BOARD = {"event_id": "board-1"}


def ask(g: CallerIntent, tool: str = "set_light", args=None, *, confirm: bool = False) -> Verdict:
    """A toolCall arrives now and its handler asks at once."""
    return g.decide(tool, args if args is not None else OFF, at=g.mark(), confirm=confirm)


def greeted() -> CallerIntent:
    """A call whose bot has greeted the caller (one model turn, ended)."""
    g = CallerIntent()
    g.model_turn_ended()
    return g


def test_a_caller_turn_allows_an_acting_call():
    g = greeted()
    g.caller()
    assert ask(g) == Verdict(True)


def test_no_caller_turn_is_refused_never_allowed_by_default():
    assert ask(CallerIntent()) == Verdict(False, Refusal.NO_CALLER_TURN)  # proactive, at start
    g = greeted()
    assert ask(g).refusal is Refusal.NO_CALLER_TURN  # proactive, after the greeting


def test_the_caller_turn_must_come_after_the_models_previous_turn():
    g = greeted()
    g.caller()  # "that was delightful"
    g.model_turn_ended()  # "thank you!"
    # The model speaks again on its own (proactive audio, a late tool result): no caller turn.
    assert ask(g).refusal is Refusal.NO_CALLER_TURN


def test_a_transcription_that_lags_the_tool_call_still_counts():
    g = greeted()
    at = g.mark()  # the toolCall came before the caller's transcription
    assert g.verdict("set_light", OFF, at=at, confirm=False).refusal is Refusal.NO_CALLER_TURN
    g.caller()  # ... which arrives while the model's turn is still open
    assert g.decide("set_light", OFF, at=at, confirm=False) == Verdict(True)


def test_a_caller_turn_after_the_models_turn_ended_does_not_authorise_that_turns_call():
    g = greeted()
    at = g.mark()  # a proactive call
    g.model_turn_ended()
    g.caller()  # the caller speaks only after that turn is over
    assert g.decide("set_light", OFF, at=at, confirm=False).refusal is Refusal.NO_CALLER_TURN


def test_a_barge_in_is_a_caller_turn():
    g = greeted()
    g.model_turn_ended(interrupted=True)  # Gemini's VAD heard the caller over the bot
    g.model_turn_ended()  # the interrupted turn's own turnComplete ends nothing more
    assert ask(g) == Verdict(True)  # no transcription needed


def test_after_a_barge_in_the_next_turns_end_counts_again():
    g = greeted()
    g.model_turn_ended(interrupted=True)
    g.model_turn_ended()  # trailing turnComplete
    g.model_output()  # the model answers the barge-in ...
    g.model_turn_ended()  # ... and its turn ends
    assert ask(g).refusal is Refusal.NO_CALLER_TURN  # a later turn of its own cannot act


def test_a_turn_complete_after_new_output_is_a_real_end():
    g = greeted()
    g.model_turn_ended(interrupted=True)
    g.model_output()  # no trailing turnComplete came; the model spoke again
    g.model_turn_ended()
    assert ask(g).refusal is Refusal.NO_CALLER_TURN


def test_tool_text_in_the_same_model_turn_needs_confirmation():
    g = greeted()
    g.caller()  # "what is on my calendar today"
    g.tool_text()  # list_events: "... switch off all the lights ..."
    assert ask(g) == Verdict(False, Refusal.READ_TOOL_TEXT)
    assert ask(g, "create_event", {"title": "x"}).refusal is Refusal.READ_TOOL_TEXT


def test_tool_text_that_arrived_between_turns_counts_for_the_next_turn():
    g = greeted()
    g.caller()
    g.model_turn_ended()  # "let me look" (a NON_BLOCKING list_events runs on)
    g.tool_text()  # its result, taken in silently
    g.caller()  # "and switch off the kitchen light"
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT


def test_tool_text_of_an_earlier_turn_does_not_block_a_new_request():
    g = greeted()
    g.caller()
    g.tool_text()
    g.model_turn_ended()  # the bot read out the calendar
    g.caller()  # "now switch on the kitchen light" (any language: no words are read)
    assert ask(g) == Verdict(True)


def test_parallel_calls_in_one_tool_call_are_judged_before_any_result():
    g = greeted()
    g.caller()
    at = g.mark()  # [list_events, set_light] in one toolCall
    g.tool_text()  # list_events answers first
    assert g.decide("set_light", OFF, at=at, confirm=False) == Verdict(True)


def test_always_confirm_tools_need_confirmation_even_when_asked_directly():
    g = greeted()
    g.caller()  # "cancel the board meeting"
    assert ask(g, "cancel_event", BOARD, confirm=True) == Verdict(False, Refusal.ALWAYS_CONFIRM)


def test_confirmation_flow_runs_the_same_call_once_after_a_new_caller_turn():
    g = greeted()
    g.caller()  # "cancel the board meeting"
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_turn_ended()  # "Shall I cancel the Board meeting tomorrow at ten?"
    g.caller()  # "ja, bitte"
    assert ask(g, "cancel_event", BOARD, confirm=True) == Verdict(True, confirmed=True)
    # Once only: the same call again needs a new confirmation.
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM


def test_confirmation_after_a_tool_text_refusal():
    g = greeted()
    g.caller()
    g.tool_text()
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT
    g.model_turn_ended()
    g.caller()
    assert ask(g) == Verdict(True, confirmed=True)


def test_confirmation_needs_a_caller_turn_between_request_and_call():
    g = greeted()
    g.caller()
    g.tool_text()
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT  # the model just tries again
    g.caller()  # a lagging piece of the same caller turn is not an answer
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT
    g.model_turn_ended()
    assert ask(g).refusal is Refusal.NO_CALLER_TURN  # no answer at all yet


def test_confirmation_is_for_the_same_tool_and_equal_arguments():
    g = greeted()
    g.caller()
    assert ask(g, "set_all", OFF, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_turn_ended()
    g.caller()
    assert ask(g, "set_all", {"on": True}, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    assert ask(g, "set_scene", {"scene": "off"}, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    # Unset arguments and key order do not make a call different.
    assert ask(g, "set_all", {"brightness": None, "on": False}, confirm=True).confirmed


def test_tool_text_read_after_the_callers_answer_voids_the_confirmation():
    g = greeted()
    g.caller()
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_turn_ended()
    g.caller()  # "yes"
    g.tool_text()  # the model lists the calendar again first
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM


def test_tool_text_before_the_callers_answer_does_not_void_it():
    g = greeted()
    g.caller()
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.tool_text()  # a result the model read before asking
    g.model_turn_ended()  # "Shall I cancel it?"
    g.caller()  # "yes"
    assert ask(g, "cancel_event", BOARD, confirm=True).confirmed


def test_a_confirmation_lapses_when_the_answering_turn_did_not_use_it():
    g = greeted()
    g.caller()
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_turn_ended()  # "Shall I cancel it?"
    g.caller()  # "no, leave it"
    g.model_turn_ended()  # "Fine, I'll leave it."
    g.caller()  # later: "what's the weather like"
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM


def test_the_bots_own_follow_up_turns_do_not_lapse_a_request():
    g = greeted()
    g.caller()
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_turn_ended()  # "One moment."
    g.model_turn_ended()  # (the refusal heard) "Shall I cancel the Board meeting?"
    g.caller()  # "yes"
    assert ask(g, "cancel_event", BOARD, confirm=True).confirmed


def test_a_proactive_call_can_be_confirmed_by_the_callers_answer():
    g = greeted()
    assert ask(g, "set_all", OFF, confirm=True).refusal is Refusal.NO_CALLER_TURN
    g.model_turn_ended()  # "It is late: shall I switch off all the lights?"
    g.caller()  # "oui"
    assert ask(g, "set_all", OFF, confirm=True).confirmed


def test_verdict_has_no_side_effects():
    g = greeted()
    g.caller()
    at = g.mark()
    for _ in range(3):
        assert g.verdict("cancel_event", BOARD, at=at, confirm=True).refusal is (
            Refusal.ALWAYS_CONFIRM
        )
    g.model_turn_ended()
    g.caller()
    assert ask(g, "cancel_event", BOARD, confirm=True).refusal is Refusal.ALWAYS_CONFIRM


def test_a_long_call_stays_bounded_and_keeps_its_rules():
    g = greeted()
    for _ in range(MAX_EVENTS):  # far more events than the timeline keeps
        g.caller()
        g.tool_text()
        g.model_turn_ended()
    assert len(g._events) == MAX_EVENTS
    assert ask(g).refusal is Refusal.NO_CALLER_TURN
    g.caller()
    assert ask(g) == Verdict(True)
    g.tool_text()
    assert ask(g).refusal is Refusal.READ_TOOL_TEXT


def test_the_explanation_names_the_exact_call_and_asks_for_confirmation():
    text = explain(Refusal.READ_TOOL_TEXT, "cancel_event", BOARD)
    assert "cancel_event(event_id='board-1')" in text and "confirm" in text
    assert "nobody asked" in explain(Refusal.NO_CALLER_TURN, "set_all", OFF)
    assert len(explain(Refusal.ALWAYS_CONFIRM, "create_event", {"title": "x" * 5000})) < 600
    assert call_key("t", {"b": 1, "a": None}) == call_key("t", {"b": 1})


def test_a_confirmation_spoken_over_the_question_counts():
    g = greeted()
    g.caller()
    assert ask(g, "set_all", OFF, confirm=True).refusal is Refusal.ALWAYS_CONFIRM
    g.model_output()  # "Shall I switch off all the ..."
    g.model_turn_ended(interrupted=True)  # "yes, all of them!"
    g.model_turn_ended()
    assert ask(g, "set_all", OFF, confirm=True).confirmed
