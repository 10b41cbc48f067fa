"""Status of the embedded local model for the Home screen (no streamlit here)."""

from __future__ import annotations

import importlib.util

from trace2skill.errors import LocalModelMissingError
from trace2skill.llm import find_local_model
from trace2skill.llm.local import INSTALL_SERVER


def local_model_status() -> tuple[bool, str]:
    """(usable, detail): the GGUF's path and the server package, or what to install."""
    try:
        path = find_local_model()
    except LocalModelMissingError as exc:
        return False, str(exc)
    if importlib.util.find_spec("xllamacpp") is None:
        return False, f"model file found at {path}, but the llama.cpp server is missing: {INSTALL_SERVER}"
    return True, f"model file: {path}"
