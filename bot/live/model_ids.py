"""How a Live model id is spelled for each backend.

Its own module because the spelling is not a capability: `bot.live_settings` normalizes
the id once at start, and the model table (`bot.live.models`) matches on the bare id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.live.models import Backend


def bare_model_id(model: str) -> str:
    """`gemini-3.8-live` from any of its spellings (`models/…`, `publishers/google/models/…`,
    `projects/p/locations/l/publishers/google/models/…`, `google/…`)."""
    return model.rsplit("/", 1)[-1]


def normalized_model(
    model: str, backend: Backend, project: str | None = None, location: str | None = None
) -> str:
    """The model id in the form its backend takes.

    Developer API: `models/{id}`. Vertex AI: the full resource name
    `projects/{p}/locations/{l}/publishers/{publisher}/models/{id}` (what google-genai's
    `t_model` and live `connect` build from `google/{id}` or a bare id; a name that
    already starts with `projects/` is kept).
    """
    if backend == "developer":
        if model.startswith(("models/", "tunedModels/")):
            return model
        return f"models/{bare_model_id(model)}"
    if model.startswith("projects/"):
        return model
    publisher = "google"
    parts = model.split("/")
    if model.startswith("publishers/") and len(parts) >= 4:
        publisher = parts[1]
    elif len(parts) == 2 and parts[0] != "models":
        publisher = parts[0]
    name = f"publishers/{publisher}/models/{bare_model_id(model)}"
    if project and location:
        return f"projects/{project}/locations/{location}/{name}"
    return name
