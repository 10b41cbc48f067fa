"""Workspace settings kept in the database (the LLM endpoint, model, default concurrency and the
model's context window), and the one resolver the app and the command line both use to decide which model to talk to.

Per field, the first that is set wins: an explicit argument (a CLI flag) -> the environment
(OPENAI_BASE_URL, TRACE2SKILL_MODEL) -> the workspace's stored settings -> the default (no base URL:
the embedded local model). API keys are never stored: they come from OPENAI_API_KEY only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from sqlite_utils import Database

from trace2skill.context_window import LOCAL_CONTEXT_TOKENS, MAX_CONTEXT_TOKENS, MIN_CONTEXT_TOKENS, skill_chars
from trace2skill.errors import SettingsError
from trace2skill.llm import LLMConfig
from trace2skill.llm.config import ENV_BASE_URL, ENV_MODEL
from trace2skill.store.settings import put_setting, stored_settings

KEYS = ("base_url", "model", "concurrency", "flagged_lessons", "context_window", "required_approvals", "batch_price")
FORBIDDEN = ("api_key", "key", "token", "secret", "password")
ENV_VARS: dict[str, str] = {"base_url": ENV_BASE_URL, "model": ENV_MODEL}  # concurrency has none
DEFAULT_CONCURRENCY = 8
FLAG_POLICIES = ("flag", "hide", "reject")  # what happens to a lesson flagged by code
MAX_CONCURRENCY = 512
APPROVAL_POLICIES = ("1", "2")  # reviewers who must approve a proposal before it is saved
DEFAULT_BATCH_PRICE = 0.5  # a batch's share of the live price (the OpenAI Batch API bills half)

Source = Literal["flag", "environment", "workspace", "default"]


@dataclass(frozen=True)
class Effective:
    """One setting's value in use and where it came from."""

    value: str | None
    source: Source

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source}


# --------------------------------------------------------------------------- stored settings


def get_settings(db: Database) -> dict[str, str]:
    return stored_settings(db)


def check_key(key: str) -> str:
    """The key itself when it is a workspace setting; SettingsError for unknown keys and secrets."""
    if any(word in key.lower() for word in FORBIDDEN):
        raise SettingsError(f"{key!r} is a secret and is never stored in the workspace: "
                            "set the OPENAI_API_KEY environment variable instead")
    if key not in KEYS:
        raise SettingsError(f"unknown setting {key!r}; the settings are {', '.join(KEYS)}")
    return key


def _check_base_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
        raise SettingsError(f"base_url must be an http(s) URL such as http://localhost:8000/v1, not {value!r}")
    return value


def _check_concurrency(value: str) -> str:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {value!r}") from None
    if not 1 <= number <= MAX_CONCURRENCY:
        raise SettingsError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, not {number}")
    return str(number)


def _check_model(value: str) -> str:
    if any(c.isspace() for c in value):
        raise SettingsError(f"a model name has no spaces or line breaks: {value!r}")
    return value


def _check_policy(value: str) -> str:
    if value not in FLAG_POLICIES:
        raise SettingsError(f"flagged_lessons is one of {', '.join(FLAG_POLICIES)}, not {value!r}")
    return value


def _check_context(value: str) -> str:
    try:
        number = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        number = 0
    if not MIN_CONTEXT_TOKENS <= number <= MAX_CONTEXT_TOKENS:
        raise SettingsError(f"context_window is the model's context window in tokens, a whole number from "
                            f"{MIN_CONTEXT_TOKENS:,} to {MAX_CONTEXT_TOKENS:,}, not {value!r}")
    return str(number)


def _check_approvals(value: str) -> str:
    if value not in APPROVAL_POLICIES:
        raise SettingsError("required_approvals is 1 (one reviewer, who approves by saving) or 2 (two reviewers "
                            f"must approve a proposal before it is saved), not {value!r}")
    return value


def _check_batch_price(value: str) -> str:
    try:
        share = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        raise SettingsError(f"batch_price is the share of the live price a batch call costs, from 0 to 1 (0.5 on "
                            f"the OpenAI Batch API) or a percentage (50%), not {value!r}")
    return f"{share:g}"


def check_setting(key: str, value: str) -> str:
    """The value to store for `key` (normalised), or SettingsError saying what is wrong with it."""
    checks = {"base_url": _check_base_url, "model": _check_model, "concurrency": _check_concurrency,
              "flagged_lessons": _check_policy, "context_window": _check_context,
              "required_approvals": _check_approvals, "batch_price": _check_batch_price}
    return checks[check_key(key)](value.strip())


def set_setting(db: Database, key: str, value: str | None) -> None:
    """Store a setting; an empty or None value removes it. Bad keys and values raise SettingsError."""
    check_key(key)
    clean = check_setting(key, value) if value and value.strip() else None
    put_setting(db, key, clean or None)


# --------------------------------------------------------------------------- resolution


def _first(explicit: str | None, env_var: str | None, stored: str | None) -> Effective:
    if explicit:
        return Effective(explicit, "flag")
    from_env = os.environ.get(env_var) if env_var else None
    if from_env:
        return Effective(from_env, "environment")
    if stored:
        return Effective(stored, "workspace")
    return Effective(None, "default")


def effective_settings(db: Database, base_url: str | None = None, model: str | None = None,
                       concurrency: int | None = None) -> dict[str, Effective]:
    """Each setting's value in use and its source (flag / environment / workspace / default)."""
    stored = get_settings(db)
    found = {key: _first(explicit, ENV_VARS.get(key), stored.get(key)) for key, explicit in
             (("base_url", base_url), ("model", model), ("concurrency", str(concurrency) if concurrency else None))}
    if found["concurrency"].value is None:
        found["concurrency"] = Effective(str(DEFAULT_CONCURRENCY), "default")
    policy = stored.get("flagged_lessons")
    found["flagged_lessons"] = (Effective(policy, "workspace") if policy else
                                Effective("hide with the embedded model, else flag", "default"))
    window = stored.get("context_window")
    found["context_window"] = (Effective(window, "workspace") if window else
                               Effective(f"{LOCAL_CONTEXT_TOKENS} with the embedded model, else not set", "default"))
    approvals = stored.get("required_approvals")
    found["required_approvals"] = Effective(approvals, "workspace") if approvals else Effective("1", "default")
    share = stored.get("batch_price")
    found["batch_price"] = Effective(share, "workspace") if share else Effective(f"{DEFAULT_BATCH_PRICE:g}", "default")
    return found


def resolve_llm(db: Database, base_url: str | None = None, model: str | None = None, **overrides: Any) -> LLMConfig:
    """The LLM config in use: per field, flag -> environment -> workspace -> embedded model.

    `overrides` are other LLMConfig fields (temperature, timeout_s, ...); the key is env-only."""
    found = effective_settings(db, base_url, model)
    return LLMConfig.from_env(base_url=found["base_url"].value, model=found["model"].value, **overrides)


def resolve_concurrency(db: Database, concurrency: int | None = None, default: int = DEFAULT_CONCURRENCY) -> int:
    """The flag's concurrency, else the workspace's stored one, else `default`."""
    if concurrency:
        return concurrency
    stored = get_settings(db).get("concurrency")
    return int(stored) if stored and stored.isdigit() and int(stored) > 0 else default


def llm_config(db: Database) -> LLMConfig:
    """The app's LLM config: `resolve_llm` without flags (environment, then the workspace's settings)."""
    return resolve_llm(db)


def skill_chars_setting(db: Database, share: float) -> int | None:
    """Characters of skill a prompt may carry, from the workspace's `context_window` (the model's
    context window) and the share of it the skill may take; None when the setting is not stored."""
    stored = get_settings(db).get("context_window")
    return skill_chars(int(stored), share) if stored and stored.isdigit() else None


def flag_policy(db: Database, local_model: bool) -> str:
    """What happens to lessons flagged by code: the workspace's choice, else "hide" for the
    embedded toy model (its lessons are mostly unusable) and "flag" for a real endpoint."""
    stored = get_settings(db).get("flagged_lessons")
    return stored if stored in FLAG_POLICIES else ("hide" if local_model else "flag")


def required_approvals(db: Database) -> int:
    """How many distinct reviewers must approve a proposal before it is saved: the workspace's
    `required_approvals`, else 1 (the reviewer who saves)."""
    stored = get_settings(db).get("required_approvals")
    return int(stored) if stored in APPROVAL_POLICIES else 1


def batch_price(db: Database) -> float:
    """The share of the live price a call sent in a batch costs: the workspace's `batch_price`,
    else 0.5 (the OpenAI Batch API's half price)."""
    stored = get_settings(db).get("batch_price")
    try:
        return float(stored) if stored else DEFAULT_BATCH_PRICE
    except ValueError:
        return DEFAULT_BATCH_PRICE
