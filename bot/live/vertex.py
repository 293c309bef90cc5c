"""The Live stage on Vertex AI: what differs from the Developer API, in one subclass.

Why a subclass (as Pipecat's own `gemini_live/vertex/llm.py` does) and not `if`s in
the stage: Vertex AI's Live endpoint refuses `history_config`. Whether it takes
NON_BLOCKING declarations and a result's `scheduling` depends on the model (Gemini 3.8
Live does, earlier ones break on them): the model table says (`models.py`), for both
backends, through the stage. The model id goes out in Vertex AI's own form
(`projects/…/publishers/google/models/…`, `models.normalized_model`). The client itself
(project, location, credentials) is built by `client.shared_client` from the same settings.
We do not use Pipecat's Vertex service: it builds its own client per call and has
none of our stage.
"""

from __future__ import annotations

from typing import Any

from google.genai.types import HistoryConfig

from bot.live.stage import LiveStage
from bot.settings import Backend, LiveSettings


class VertexLiveStage(LiveStage):
    """The Live stage against Vertex AI."""

    transparent_resumption = True  # handles say which client message they hold

    def _get_history_config(self) -> HistoryConfig | None:
        return None  # Vertex AI refuses history_config


def live_stage(*, live: LiveSettings, **kwargs: Any) -> LiveStage:
    """The Live stage for these settings' backend (the Developer API or Vertex AI)."""
    cls = VertexLiveStage if live.backend is Backend.VERTEX else LiveStage
    return cls(live=live, **kwargs)
