"""Pydantic domain types shared by the whole pipeline.

These are the shapes at the library's boundaries (importers, LLM outputs, the CLI's JSON) and the
typed records `trace2skill.store` hands back (runs, lessons, skill versions, stored trajectories,
decisions, ...): the store converts its rows to and from them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, computed_field

Role = Literal["system", "user", "assistant", "tool", "environment"]
OutcomeLabel = Literal["success", "failure", "unknown"]


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no spaces) used for content hashes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_hash(value: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:length]


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_ARTICLE = re.compile(r"^(a|an|the)\s+")


def normalise_text(text: str) -> str:
    """Accent-free, lower-case, punctuation-free, single-spaced text without a leading article
    (for comparing answers and spotting the same task text however it is written)."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return _ARTICLE.sub("", " ".join(_PUNCT.sub(" ", folded).split()))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- trajectories


class ToolCall(_Model):
    id: str | None = None
    name: str
    # Parsed arguments when they are a JSON object; otherwise the raw string is kept.
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ToolResult(_Model):
    call_id: str | None = None
    content: str = ""
    is_error: bool = False


class Step(_Model):
    index: int
    role: Role
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    timestamp: str | None = None
    # Pointer back into the source record (e.g. "traj[3]", "line 12", "event 7").
    raw_ref: str | None = None

    @property
    def is_error(self) -> bool:
        return any(r.is_error for r in self.tool_results)


class Task(_Model):
    id: str | None = None
    prompt: str = ""


class Outcome(_Model):
    label: OutcomeLabel = "unknown"
    reward: float | None = None
    detail: str | None = None


class Trajectory(_Model):
    """One agent run, normalised. `id` is a content hash of everything but `id`, `source_name` and
    `outcome` (so the same run imported from two files is one trajectory, and a re-import with a
    corrected outcome relabels it instead of adding a second one; importers keep volatile values such
    as paths or import times out of `metadata`). Workspaces from before this rule keep their old ids
    (see migration m011_imports)."""

    id: str = ""
    source_format: str
    source_name: str = ""
    task: Task = Field(default_factory=Task)
    outcome: Outcome = Field(default_factory=Outcome)
    steps: list[Step] = Field(default_factory=list)
    model: str | None = None
    final_output: str | None = None
    # Ground truth when the data has it, e.g. {"actions": [{"name":..., "kwargs":...}], "outputs": [...]}.
    ground_truth: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What the id is a hash of (see the class docstring)."""
        return self.model_dump(exclude={"id", "source_name", "outcome"})

    def compute_id(self) -> str:
        return content_hash(self.identity())

    def with_id(self) -> Trajectory:
        self.id = self.compute_id()
        return self


SignalKind = Literal[
    "tool_error",
    "repeated_action",
    "loop",
    "halted",
    "truncated",
    "gold_missing",
    "gold_mismatch",
    "gold_extra",
]


class Signal(_Model):
    trajectory_id: str
    step_idx: int | None = None
    kind: SignalKind
    detail: str = ""


# Stored trajectories, as the store reads them back (flat columns; the importers' `Trajectory` is nested).


class StoredStep(_Model):
    """A row of `steps`: one step of a stored trajectory."""

    trajectory_id: str
    idx: int
    role: Role
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    tool_name: str | None = None  # the first call's tool
    is_error: bool = False
    timestamp: str | None = None
    raw_ref: str | None = None


class StoredSignal(_Model):
    """A signal of a stored trajectory (as `get_trajectory` returns it)."""

    step_idx: int | None = None
    kind: SignalKind
    detail: str = ""


class TrajectoryRow(_Model):
    """A trajectory as the lists show it: its columns without the big texts, its signal kinds
    (comma-separated) and its split (None: not marked)."""

    id: str
    source_format: str
    source_name: str = ""
    task_id: str | None = None
    task: str = ""
    model: str | None = None
    outcome: OutcomeLabel = "unknown"
    reward: float | None = None
    n_steps: int = 0
    n_tool_calls: int = 0
    n_errors: int = 0
    imported_at: str = ""
    signals: str | None = None
    split: str | None = None


class StoredTrajectory(_Model):
    """A row of `trajectories` with its signals and (unless left out) its steps."""

    id: str
    source_format: str
    source_name: str = ""
    task_id: str | None = None
    task: str = ""
    model: str | None = None
    outcome: OutcomeLabel = "unknown"
    outcome_source: Literal["data", "user"] = "data"
    reward: float | None = None
    outcome_detail: str | None = None
    ground_truth: dict[str, Any] | None = None
    final_output: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    n_steps: int = 0
    n_tool_calls: int = 0
    n_errors: int = 0
    imported_at: str = ""
    signals: list[StoredSignal] = Field(default_factory=list)
    steps: list[StoredStep] = Field(default_factory=list)


# --------------------------------------------------------------------------- runs and LLM calls

RunStatus = Literal["queued", "running", "done", "failed", "cancelled", "stopped"]  # stopped: at its budget (resumable)
ItemStatus = Literal["queued", "running", "done", "failed", "cancelled"]
ITEM_STATUSES: tuple[ItemStatus, ...] = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")


class RunProgress(BaseModel):
    """Item counts of a run by status, and the tokens its items used."""

    model_config = ConfigDict(extra="ignore")  # `total` is computed: a dump reads back

    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed + self.cancelled

    @property
    def settled(self) -> int:
        """Items that will not move again without a resume (done, failed or cancelled)."""
        return self.done + self.failed + self.cancelled

    @property
    def fraction_done(self) -> float:
        """Share of items done: what a progress bar shows (a cancelled run is never at 100 %)."""
        return self.done / self.total if self.total else 0.0


class Run(_Model):
    """A stored run of the run engine (see trace2skill.runs)."""

    id: str
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = "queued"
    counters: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created: str = ""
    started: str | None = None  # first execution
    resumed: str | None = None  # latest execution (throughput and ETA count from here)
    finished: str | None = None
    heartbeat: str | None = None  # refreshed while an engine executes it
    owner: str | None = None  # host:pid of the process that executes (or last executed) it
    progress: RunProgress = Field(default_factory=RunProgress)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class RunItem(_Model):
    """One unit of a run's work (a trajectory, an evaluation task, ...) and its state."""

    run_id: str
    item_id: str
    status: ItemStatus = "queued"
    error: str | None = None  # the last error: a retry's while it retries, the failure's once failed
    attempts: int = 0  # LLM requests sent for this item (retries included)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: str | None = None
    finished: str | None = None
    retry_at: str | None = None  # when a retrying item sends its next request


class ModelPrice(_Model):
    """What one model costs, in currency units per million tokens (the workspace's price table)."""

    prompt: float = Field(default=0.0, ge=0)
    cached_prompt: float = Field(default=0.0, ge=0)  # prompt tokens the endpoint served from its cache
    completion: float = Field(default=0.0, ge=0)


class TokenUsage(_Model):
    """Tokens of a set of LLM calls (one model's, or all of a run's). `cached_tokens` is the part of
    `prompt_tokens` the endpoint reported as served from its prompt cache."""

    model: str = ""
    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunBudget(_Model):
    """A run's limits (in its config under "budget"): total tokens and/or money; None: no limit."""

    tokens: int | None = Field(default=None, ge=1)
    usd: float | None = Field(default=None, gt=0)

    @property
    def is_set(self) -> bool:
        return self.tokens is not None or self.usd is not None


class RunSpend(_Model):
    """What a run has spent: tokens from the call log (cache hits are free), money from the price
    table. `unpriced` names models with tokens but no price (their money is not in `usd`)."""

    model_config = ConfigDict(extra="ignore")  # `tokens` is computed: a dump reads back

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    unpriced: list[str] = Field(default_factory=list)
    budget: RunBudget | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMCall(_Model):
    """One entry of the call log: a request sent (with its answer or error), or a request a run
    answered from the cache (`cached`: then `id` is the call whose answer was reused)."""

    id: str
    run_id: str | None = None
    item_id: str | None = None
    model: str = ""
    request: dict[str, Any] = Field(default_factory=dict)
    response: dict[str, Any] | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    latency_s: float | None = None
    error: str | None = None
    created: str = ""
    cached: bool = False

    @property
    def prompt(self) -> str:
        """The last user message of the request (what the caller asked)."""
        users = [m.get("content") or "" for m in self.request.get("messages") or [] if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    @property
    def answer(self) -> str:
        return str((self.response or {}).get("content") or "")


# --------------------------------------------------------------------------- lessons

LessonKind = Literal["failure_cause", "failure_lesson", "success_lesson"]
LessonStatus = Literal["proposed", "approved", "rejected"]
LESSON_KINDS: tuple[LessonKind, ...] = ("failure_cause", "failure_lesson", "success_lesson")
LESSON_STATUSES: tuple[LessonStatus, ...] = ("proposed", "approved", "rejected")


class Evidence(_Model):
    step_idx: int
    quote: str
    grounded: bool | None = None  # None until checked
    match: Literal["exact", "fuzzy", "none"] | None = None
    # Where the quote matched: offsets into `grounding.step_text` of step `step_idx` (None when
    # not grounded, or checked before offsets were recorded).
    start: int | None = None
    end: int | None = None


class LessonFlag(_Model):
    """A quality problem found by code (see trace2skill.analysis.flags), with its reason."""

    code: str
    reason: str


Verdict = Literal["fixed", "not_fixed", "kept", "broken", "not_verifiable"]


class Lesson(_Model):
    id: str = ""
    run_id: str | None = None
    trajectory_id: str
    kind: LessonKind
    title: str
    description: str = ""
    content: str
    evidence: list[Evidence] = Field(default_factory=list)
    grounded: bool | None = None
    status: LessonStatus = "proposed"
    edited_by: str | None = None
    version: int = 1
    created: str = ""  # set when stored
    updated: str = ""
    flags: list[LessonFlag] = Field(default_factory=list)  # quality problems found by code
    verdict: Verdict | None = None  # the latest replay verification's verdict
    round: int = 0  # 0: from the analyst; n: revised in round n of a verification's fix loop
    revises: list[str] = Field(default_factory=list)  # the lessons a revision replaces


class LessonCheck(_Model):
    """One replay verification of a lesson: its verdict and the replays behind it."""

    lesson_id: str
    run_id: str
    verdict: Verdict
    rate_with: float | None = None  # pass rate of the replays with the lesson
    rate_without: float | None = None  # ... with the frozen skill alone
    repeats: int = 0
    round: int = 0
    evidence: dict[str, Any] = Field(default_factory=dict)  # answers and scores of each replay
    created: str = ""


# --------------------------------------------------------------------------- patches and merges

EditOp = Literal[
    "insert_after",
    "insert_before",
    "append_to_section",
    "replace_in_section",
    "add_section",
    "delete_section",
    "create_file",
    "delete_file",
]


class Edit(_Model):
    id: str = ""
    op: EditOp
    file: str = "SKILL.md"
    section: str | None = None
    anchor: str | None = None
    content: str = ""
    rationale: str = ""
    # Lesson ids behind this edit; flows up the merge tree by code.
    support: list[str] = Field(default_factory=list)
    # Input edit ids a merged edit derives from.
    derived_from: list[str] = Field(default_factory=list)


class Patch(_Model):
    id: str = ""
    run_id: str | None = None
    level: int = 0
    edits: list[Edit] = Field(default_factory=list)


class DroppedEdit(_Model):
    edit_id: str
    reason: str


NodeStatus = Literal["queued", "running", "done", "fallback", "failed", "cancelled"]


class MergeNode(_Model):
    """A merge of the tree. "fallback": the merge answer stayed invalid, so the inputs were passed
    up unchanged (the reason is in `rationale` and the node's error)."""

    run_id: str
    level: int
    idx: int
    inputs: list[str] = Field(default_factory=list)  # patch ids
    output: str | None = None  # patch id
    status: NodeStatus = "queued"
    rationale: str = ""
    dropped: list[DroppedEdit] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- skills

SkillSource = Literal["import", "proposal", "manual"]


class Skill(_Model):
    name: str
    description: str = ""
    created: str = Field(default_factory=utcnow)


class SkillVersion(_Model):
    id: str = ""
    skill: str
    parent: str | None = None
    files: dict[str, str] = Field(default_factory=dict)  # relative path -> text
    modes: dict[str, int] = Field(default_factory=dict)  # relative path -> permission bits (executable files)
    source: SkillSource
    run_id: str | None = None
    message: str = ""
    created: str = Field(default_factory=utcnow)


class Decision(_Model):
    """A recorded human action: approve/reject/edit of a lesson, accept/reject of a hunk, ..."""

    id: int | None = None  # set when stored
    subject_type: str
    subject_id: str
    action: str
    actor: str = "user"
    detail: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=utcnow)


ImportStatus = Literal["running", "done", "earlier"]  # earlier: recorded when the history began


class ImportRecord(_Model):
    """One import of one file: what it was, what it did, when and by whom (`actor`: cli, ui, … as in
    decisions; `user`: the operating-system user), and how many of its trajectories are still here."""

    id: int
    file: str
    format: str | None = None
    mapping: dict[str, Any] | None = None
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    relabelled: int = 0
    errors: int = 0
    status: ImportStatus = "done"
    actor: str = "user"
    user: str | None = None
    started: str = ""
    finished: str | None = None
    trajectories: int = 0  # trajectories it brought (added, already present or relabelled) still in the workspace


# --------------------------------------------------------------------------- evaluation


class EvalTask(_Model):
    """An evaluation task. `answers` are the gold value(s) a QA evaluator scores against; `gold`
    keeps any other ground truth (e.g. τ-bench gold actions) for a command evaluator."""

    id: str = ""
    prompt: str
    context: str = ""
    answers: list[str] = Field(default_factory=list)
    gold: dict[str, Any] | None = None
    source: str = ""
    source_id: str | None = None
    trajectory_id: str | None = None

    def with_id(self) -> EvalTask:
        self.id = content_hash({"prompt": self.prompt, "context": self.context, "answers": self.answers,
                                "gold": self.gold})
        return self

    @property
    def text_hash(self) -> str:
        """Hash of the normalised task text: the same question however it is spaced or cased."""
        return content_hash(normalise_text(self.prompt))
