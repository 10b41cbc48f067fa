"""`check_connection`: can we reach the configured endpoint and does it serve the model?

Used by the settings screen and `trace2skill` commands before a run starts. It never raises.
"""

from __future__ import annotations

import openai

from trace2skill.errors import Trace2SkillError
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.transport import make_openai
from trace2skill.textcut import cut_words

CHECK_TIMEOUT_S = 15.0


def check_connection(config: LLMConfig, *, transport: object = None) -> tuple[bool, str]:
    """(ok, message). Lists the endpoint's models; falls back to a one-token chat request when
    the endpoint has no /models route."""
    try:
        if config.base_url is None:
            from trace2skill.llm.local import resolve
            config = resolve(config)
    except Trace2SkillError as exc:
        return False, str(exc)
    quick = config.model_copy(update={"timeout_s": min(config.timeout_s, CHECK_TIMEOUT_S)})
    where = config.base_url
    try:
        with make_openai(quick, transport=transport) as sdk:
            try:
                ids = [m.id for m in sdk.models.list().data]
            except openai.NotFoundError:
                ids = None
            if ids is None:
                if not config.model:
                    return False, f"{where} is reachable but lists no models; set TRACE2SKILL_MODEL"
                sdk.chat.completions.create(model=config.model, max_tokens=1,
                                            messages=[{"role": "user", "content": "ping"}])
                return True, f"{where} answered a test request with model {config.model}"
    except openai.AuthenticationError:
        return False, f"{where} rejected the API key: set OPENAI_API_KEY to a valid key"
    except openai.APITimeoutError:
        return False, f"{where} did not answer within {quick.timeout_s:.0f} s"
    except openai.APIConnectionError as exc:
        return False, f"cannot reach {where}: {exc.__cause__ or exc}"
    except openai.APIStatusError as exc:
        return False, cut_words(f"{where} answered HTTP {exc.status_code}: {exc.message}", 1000, where=None)
    except openai.OpenAIError as exc:
        return False, cut_words(f"{where}: {exc}", 1000, where=None)
    if not config.model:
        shown = ", ".join(ids[:10]) or "none"
        return False, f"{where} is reachable; choose a model (TRACE2SKILL_MODEL). Served: {shown}"
    if ids and config.model not in ids and not config.local:
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        return False, f"{where} is reachable but does not list model {config.model!r} (it serves: {shown})"
    note = " (the embedded toy model: fine for trying the pipeline, not for real lessons)" if config.local else ""
    return True, f"connected to {where}; model {config.model} is available{note}"
