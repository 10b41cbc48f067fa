"""The library's exception hierarchy. Messages say what went wrong, where, and what to do."""


class Trace2SkillError(Exception):
    """Base class for every error the library raises on purpose."""


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
