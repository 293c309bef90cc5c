"""The Pipecat private members the stage relies on still exist (bot/live/pipecat_seams.py)."""

from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService

from bot.live import pipecat_seams


def test_every_listed_private_member_exists_in_pipecat():
    service = GeminiLiveLLMService(api_key="x")
    missing = [name for name in pipecat_seams.ALL if not hasattr(service, name)]
    assert missing == []
