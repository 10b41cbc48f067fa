"""A reviewer's unsaved work on Review & diff survives a reload (a new browser session: AppTest run
afresh on the same workspace file): hunk decisions and hand edits come back, per reviewer, and the
draft is gone once they save."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import CANCEL_LINE, Seeded, app_page, seed_consolidation
from trace2skill.store import Workspace
from trace2skill.store.review_drafts import clear_draft, load_draft, save_draft
from trace2skill.store.skills import latest_version

EDITED = "- Confirm the cancellation with the user first."


@pytest.fixture
def seeded() -> Seeded:
    ws = Workspace()  # the workspace the app opens
    yield seed_consolidation(ws)
    ws.close()


def _page(reviewer: str | None = None) -> AppTest:
    return app_page("views/review.py", reviewer)


def _hunks(at: AppTest) -> list[str]:
    return sorted(c.key for c in at.get("button_group") if c.key and c.key.startswith("rev_h:"))


def _decisions(at: AppTest) -> list[str | None]:
    return [at.segmented_control(key=k).value for k in _hunks(at)]


def _restored(at: AppTest) -> list[str]:
    return [i.value for i in at.info if "from earlier on this comparison" in i.value]


def test_the_store_keeps_one_draft_per_pair_and_reviewer(ws):
    save_draft(ws.db, "a", "b", "Dana", {"hunk\x1fSKILL.md\x1f0": "reject"})
    save_draft(ws.db, "a", "b", "Lee", {"hunk\x1fSKILL.md\x1f1": "accept"})
    save_draft(ws.db, "a", "b", "Dana", {"hunk\x1fSKILL.md\x1f1": "accept"})  # replaced whole
    assert load_draft(ws.db, "a", "b", "Dana") == {"hunk\x1fSKILL.md\x1f1": "accept"}
    assert load_draft(ws.db, "a", "c", "Dana") == {}
    clear_draft(ws.db, "a", "b", "Dana")
    assert load_draft(ws.db, "a", "b", "Dana") == {} and load_draft(ws.db, "a", "b", "Lee")


def test_decisions_and_hand_edits_come_back_after_a_reload_until_saved(seeded):
    at = _page("Dana")
    assert not _restored(at)
    at.segmented_control(key=_hunks(at)[0]).set_value("reject").run()
    at.segmented_control(key=_hunks(at)[1]).set_value("accept").run()
    assert not at.exception

    again = _page("Dana")  # a reload: a new session, the same workspace
    assert not again.exception
    assert _decisions(again) == ["reject", "accept"]
    assert _restored(again) == ["Your 2 decisions from earlier on this comparison are back (hunks decided, files "
                                "edited by hand): they are kept as a draft until you save."]
    assert _decisions(_page("Lee")) == [None, None]  # another reviewer has their own
    again.button(key="rev_clear_all").click().run()  # a change is kept too
    cleared = _page("Dana")
    assert _decisions(cleared) == [None, None] and not _restored(cleared)

    cleared.segmented_control(key=_hunks(cleared)[0]).set_value("reject").run()
    area = cleared.text_area[0]
    area.input(area.value.replace(CANCEL_LINE, EDITED)).run()
    edited = _page("Dana")
    assert _decisions(edited) == ["reject", None]
    assert EDITED in edited.text_area[0].value and CANCEL_LINE not in edited.text_area[0].value
    assert _restored(edited) and _restored(edited)[0].startswith("Your 2 decisions")

    edited.button(key="rev_save").click().run()
    assert not edited.exception
    text = latest_version(seeded.ws.db, "airline-policy").files["SKILL.md"]
    assert EDITED in text and CANCEL_LINE not in text
    after = _page("Dana")  # saved: nothing comes back
    assert _decisions(after) == [None, None] and not _restored(after)
    assert seeded.ws.db.execute("SELECT count(*) FROM review_drafts").fetchone()[0] == 0


def test_an_unnamed_browser_keeps_no_draft_another_one_would_get(seeded):
    at = _page()  # no name given: "app user (unnamed)", as every other unnamed browser
    assert any("Give your name in the sidebar to keep your decisions as a draft" in c.value for c in at.caption)
    at.segmented_control(key=_hunks(at)[0]).set_value("reject").run()
    assert not at.exception and _decisions(at)[0] == "reject"  # the page keeps it meanwhile
    assert seeded.ws.db.execute("SELECT count(*) FROM review_drafts").fetchone()[0] == 0
    other = _page()  # someone else, unnamed too, does not get those decisions
    assert _decisions(other) == [None, None] and not _restored(other)
