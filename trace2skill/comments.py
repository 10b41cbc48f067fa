"""Comments: a thread on a lesson, on one hunk of a proposal, or on a whole proposal. Anyone adds a
comment (a new thread), replies to a thread, resolves it (or opens it again); every one of these is
recorded as the reviewer's decision, so the activity log shows it. Open threads are counted for the
tables and before a save.

A hunk is named by the two versions compared and its place: ``OLD:NEW:PATH:INDEX`` (INDEX counts the
file's hunks from 0), as the Review & diff screen numbers them; a proposal by its version id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlite_utils import Database

from trace2skill.errors import CommentError, NotFoundError
from trace2skill.reviewers import check_name
from trace2skill.store import write_transaction
from trace2skill.store.comments import (
    Comment,
    get_comment,
    insert_comment,
    open_thread_counts,
    set_resolved,
    subject_comments,
)
from trace2skill.store.decisions import record_decision
from trace2skill.store.lessons import get_lesson
from trace2skill.store.skills import get_version
from trace2skill.textcut import cut_words

SubjectType = Literal["lesson", "hunk", "proposal"]
SUBJECT_TYPES: tuple[SubjectType, ...] = ("lesson", "hunk", "proposal")
MAX_TEXT = 5000


@dataclass
class Thread:
    """A first comment and its replies; open until resolved."""

    first: Comment
    replies: list[Comment] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return not self.first.resolved


def hunk_subject(old_id: str, new_id: str, path: str, index: int) -> str:
    """The id of a hunk: the versions compared, the file and the hunk's place in it (from 0)."""
    return f"{old_id}:{new_id}:{path}:{int(index)}"


def review_prefix(old_id: str, new_id: str) -> str:
    """What the ids of every hunk between two versions start with."""
    return f"{old_id}:{new_id}:"


def check_subject(db: Database, subject_type: str, subject_id: str) -> str:
    """The subject's full id when it exists; CommentError when it does not (or the type is unknown)."""
    if subject_type not in SUBJECT_TYPES:
        raise CommentError(f"comments go on a lesson, a hunk or a proposal, not {subject_type!r}")
    try:
        if subject_type == "lesson":
            return get_lesson(db, subject_id).id
        if subject_type == "proposal":
            return get_version(db, subject_id).id
        old, new, rest = subject_id.split(":", 2)
        path, index = rest.rsplit(":", 1)
        if not path or not index.isdigit():
            raise ValueError(subject_id)
        return hunk_subject(get_version(db, old).id, get_version(db, new).id, path, int(index))
    except NotFoundError as exc:
        raise CommentError(f"nothing to comment on: {exc}") from None
    except ValueError:
        raise CommentError(f"a hunk is named OLD_VERSION:NEW_VERSION:FILE:NUMBER, not {subject_id!r}") from None


def _text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise CommentError("a comment cannot be empty")
    if len(cleaned) > MAX_TEXT:
        raise CommentError(f"a comment has at most {MAX_TEXT:,} characters (this one has {len(cleaned):,})")
    return cleaned


def _record(db: Database, comment: Comment, action: str, actor: str) -> None:
    record_decision(db, "comment", str(comment.id), action, actor=actor,
                    detail={"on": comment.subject_type, "subject": comment.subject_id,
                            "text": cut_words(comment.text, 200, where=None, fold=True)})


def comment(db: Database, comment_id: int) -> Comment:
    found = get_comment(db, int(comment_id))
    if found is None:
        raise CommentError(f"there is no comment {comment_id}")
    return found


def add_comment(db: Database, subject_type: str, subject_id: str, text: str, *, author: str) -> Comment:
    """Start a thread on a lesson, a hunk or a proposal."""
    author, body = check_name(author), _text(text)
    with write_transaction(db):
        full = check_subject(db, subject_type, subject_id)
        new = comment(db, insert_comment(db, subject_type, full, None, author, body))
        _record(db, new, "commented", author)
    return new


def reply(db: Database, comment_id: int, text: str, *, author: str) -> Comment:
    """Reply to the thread a comment belongs to (a reply to a reply joins the same thread)."""
    author, body = check_name(author), _text(text)
    with write_transaction(db):
        target = comment(db, comment_id)
        root = target.parent_id or target.id
        new = comment(db, insert_comment(db, target.subject_type, target.subject_id, root, author, body))
        _record(db, new, "replied", author)
    return new


def resolve(db: Database, comment_id: int, *, actor: str, resolved: bool = True) -> Comment:
    """Resolve the thread a comment belongs to (or, with `resolved=False`, open it again).
    Returns its first comment as it now stands."""
    actor = check_name(actor)
    with write_transaction(db):
        target = comment(db, comment_id)
        root = comment(db, target.parent_id or target.id)
        if root.resolved != resolved:
            set_resolved(db, root.id, resolved, actor)
            root = comment(db, root.id)
            _record(db, root, "resolved" if resolved else "reopened", actor)
    return root


def threads(db: Database, subject_type: str, subject_id: str) -> list[Thread]:
    """The threads on one subject, oldest first, each with its replies in order."""
    out: dict[int, Thread] = {}
    for c in subject_comments(db, subject_type, subject_id):
        if c.parent_id is None:
            out[c.id] = Thread(c)
        elif c.parent_id in out:
            out[c.parent_id].replies.append(c)
    return list(out.values())


def open_threads(db: Database, subject_type: str, subject_ids: Iterable[str]) -> dict[str, int]:
    """Subject id -> its open threads (subjects without any left out)."""
    return open_thread_counts(db, subject_type, subject_ids)


def open_on_review(db: Database, old_id: str, new_id: str) -> int:
    """Open threads on a proposal (`new_id`) and on its hunks against `old_id`."""
    hunks = open_thread_counts(db, "hunk", prefix=review_prefix(old_id, new_id))
    return sum(hunks.values()) + open_thread_counts(db, "proposal", [new_id]).get(new_id, 0)
