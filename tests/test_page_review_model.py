"""Review & diff screen (AppTest), the draft/saved model: a proposal accepted in full and saved is
marked saved (no "nothing new to save"); accepted, rejected and undecided hunks look different and
are counted; after a hand edit the diff shows the edited result, the edit box stays open and the
hunk decisions hold until the edits are discarded; a rendered preview beside the diff; side by side
with integer line numbers; a reworded line saved from the screen blames back to its lessons, and the
Provenance screen shows who reworded it and the lines the save removed."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import BOOK_LINE, CANCEL_LINE, seed_consolidation_file
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.skills import get_version, latest_version, list_versions
from trace2skill.store.version_states import current_version_id

REPO = Path(__file__).resolve().parents[1]
REWORD = "- Confirm the cancellation with the user first."


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> tuple[Path, str, str]:
    return seed_consolidation_file(tmp_path_factory.mktemp("seed"))


@pytest.fixture
def seeded(seed_file):
    """The workspace the app opens, a copy of the seeded one: (workspace, base id, proposal id)."""
    path, base, proposal = seed_file
    target = os.environ["TRACE2SKILL_DB"]
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{target}{suffix}")
    ws = Workspace(target)
    yield ws, base, proposal
    ws.close()


def _page(name: str = "review") -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page(f"views/{name}.py")
    return at.run()


def _hunk_keys(at: AppTest) -> list[str]:
    return sorted((c.key for c in at.get("button_group") if c.key and c.key.startswith("rev_h:")),
                  key=lambda k: int(k.rsplit(":", 1)[1]))


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "badge[" in m.value]


def _table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _unified(at: AppTest) -> str:
    return next(c.value for c in at.code if c.value.startswith("--- a/SKILL.md"))


def test_accepting_in_full_and_saving_marks_the_proposal_saved(seeded):
    ws, base, proposal = seeded
    at = _page()
    assert any("Draft: this proposal is not part of airline-policy" in i.value for i in at.info)
    at.button(key="rev_accept_all").click().run()
    assert any("2 hunks: 2 accepted, 0 rejected, 0 undecided" in m.value for m in at.markdown)
    assert any("Save makes the result the current version of airline-policy: this version itself, as it is."
               in c.value for c in at.caption)
    at.text_input(key="rev_reviewer").input("Dana").run()
    at.button(key="rev_save").click().run()
    assert not at.exception
    assert any(f"Saved proposal {proposal[:12]} as it is: it is now the current version of airline-policy" in s.value
               for s in at.success)
    assert not any("nothing new to save" in i.value.lower() for i in at.info)
    assert any("Saved: this proposal was saved as it is by Dana" in s.value for s in at.success)
    assert len(list_versions(ws.db, "airline-policy")) == 2 and current_version_id(ws.db, "airline-policy") == proposal
    (decision,) = list_decisions(ws.db, "skill_version", proposal)
    assert (decision.action, decision.actor, decision.detail["as_is"]) == ("save", "Dana", True)
    history = _table(at, "state")
    assert dict(zip(history["id"], history["state"])) == {proposal: "proposal (saved)", base: "imported"}
    assert dict(zip(history["id"], history["current"]))[proposal] == "current"
    at.button(key="rev_save").click().run()  # again: nothing to do, and it says so
    assert any("already the current version of airline-policy" in i.value for i in at.info)


def test_hunk_states_look_different_and_are_counted(seeded):
    at = _page()
    first, second = _hunk_keys(at)
    assert sum("undecided: stays as proposed" in b for b in _badges(at)) == 2
    at.segmented_control(key=first).set_value("reject").run()
    at.segmented_control(key=second).set_value("accept").run()
    badges = _badges(at)
    assert ":red-badge[:material/cancel: rejected: left out of the result]" in badges
    assert ":green-badge[:material/check_circle: accepted]" in badges
    assert any("2 hunks: 1 accepted, 1 rejected, 0 undecided" in m.value for m in at.markdown)
    assert f"+{BOOK_LINE}" not in _unified(at) and f"+{CANCEL_LINE}" in _unified(at)  # the result, not the proposal
    assert BOOK_LINE not in at.text_area[0].value


def test_a_hand_edit_is_what_the_diff_shows_and_the_edit_box_stays_open(seeded):
    at = _page()
    area = at.text_area[0]
    area.input(area.value.replace(CANCEL_LINE, REWORD)).run()
    assert not at.exception
    unified = _unified(at)
    assert f"+{REWORD}" in unified and f"+{CANCEL_LINE}" not in unified
    side = next(h.proto.body for h in at.get("html") if "<table" in h.proto.body)
    assert f'{html.escape(REWORD)}</td><td class="s">6 trajectories · reworded</td>' in side
    edit_box = next(e for e in at.expander if e.label == "Resulting text (edit before saving)")
    assert edit_box.proto.expanded
    assert any("You edited this file by hand" in w.value for w in at.warning)
    assert any(c.value.startswith("--- hunks/SKILL.md") and f"-{CANCEL_LINE}" in c.value and f"+{REWORD}" in c.value
               for c in at.code)
    assert all(at.segmented_control(key=k).disabled for k in _hunk_keys(at))  # decisions hold while edits stand
    at.button(key="rev_reject_all").click().run()
    assert all(at.segmented_control(key=k).value is None for k in _hunk_keys(at))
    assert REWORD in at.text_area[0].value  # the edit survives "Reject all"
    next(b for b in at.button if b.key and b.key.startswith("rev_discard:")).click().run()
    assert CANCEL_LINE in at.text_area[0].value and REWORD not in at.text_area[0].value
    assert not any(at.segmented_control(key=k).disabled for k in _hunk_keys(at))


def test_a_rendered_preview_and_integer_line_numbers(seeded):
    at = _page()
    body = next(m.value for m in at.markdown if "## Cancel flight" in m.value)
    assert BOOK_LINE in body and CANCEL_LINE in body and "\\$100" in body  # a dollar amount, not maths
    assert any(c.value == "name: airline-policy" for c in at.caption)  # the frontmatter, apart
    side = next(h.proto.body for h in at.get("html") if "<table" in h.proto.body)
    numbers = re.findall(r'<td class="n">([^<]*)</td>', side)
    assert numbers and all(n == "" or n.isdigit() for n in numbers) and "45" in numbers
    at.segmented_control(key=_hunk_keys(at)[0]).set_value("reject").run()
    body = next(m.value for m in at.markdown if "## Cancel flight" in m.value)
    assert BOOK_LINE not in body and CANCEL_LINE in body  # the preview is of the result


def test_a_line_reworded_on_the_screen_keeps_its_provenance(seeded):
    ws, _base, proposal = seeded
    at = _page()
    at.segmented_control(key=_hunk_keys(at)[0]).set_value("reject").run()
    area = at.text_area[0]
    area.input(area.value.replace(CANCEL_LINE, REWORD)).run()
    at.text_input(key="rev_reviewer").input("Dana").run()
    at.button(key="rev_save").click().run()
    saved = latest_version(ws.db, "airline-policy")
    assert (saved.source, saved.parent) == ("manual", proposal)
    assert any("1 reworded line(s) keep the provenance" in s.value for s in at.success)
    line = saved.files["SKILL.md"].splitlines().index(REWORD) + 1
    found = blame(ws.db, saved.id, "SKILL.md", line)
    assert found["rewords"][0]["by"] == "Dana" and found["rewords"][0]["replaced"] == CANCEL_LINE
    assert len(found["lessons"]) == 6 and len(found["steps"]) >= 6

    prov = _page("provenance")
    prov.number_input(key="prov_line").set_value(line).run()
    assert prov.code[0].value == REWORD
    badges = _badges(prov)
    assert any("reworded by Dana" in b for b in badges) and any("from a consolidation edit" in b for b in badges)
    assert any(c.value == CANCEL_LINE for c in prov.code)  # the words it replaced
    assert len(_table(prov, "kind")) == 6
    removed = _table(prov, "removed")
    assert list(removed["text"]) == [BOOK_LINE] and list(removed["removed"]) == ["hunk rejected in review"]
    assert list(removed["by"]) == ["Dana"] and list(removed["came from"])[0].startswith("edit ")
    assert get_version(ws.db, saved.id).files["SKILL.md"].count(REWORD) == 1
