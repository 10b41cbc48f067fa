"""The upload's "Outcome of each trace": which named value of the uploaded trace files (a span
attribute, a trace's metadata key, a Langfuse score, a LangSmith feedback key) says whether each run
succeeded: offered from what the files hold, or typed."""

from __future__ import annotations

from typing import Any

import streamlit as st

from trace2skill.errors import MappingError
from trace2skill.ingest.outcome_names import OutcomeName, TraceNames
from trace2skill.ingest.outcomes import named_choice
from trace2skill.store import Workspace
from trace2skill.ui.escape import safe_label
from trace2skill.ui.import_preview import cached_preview

KEY = "traj_outcome_attr"
THRESHOLD_KEY = "traj_outcome_at_least"
AS_THE_DATA_SAYS = ""
LABEL = "Outcome of each trace"
HELP = ("Traces seldom say whether the agent did its task. Pick the span attribute, metadata key, score or feedback "
        "key that does: the list shows those in the files whose values read as success or failure (true/false, "
        "passed/failed…; any number for a score), with what they would give; or type a name. For a score with "
        "numbers other than 0 and 1 you say where success starts (or type NAME>=X). Left as the data "
        "says: a score or key under a usual name (correct, success, passed, outcome, reward, score…), else failure "
        "when the run ended with an error, else unknown. The preview below shows the outcomes it gives. Importing "
        "a file again with another choice relabels its trajectories (not those whose outcome was set by hand).")


def trace_files(ws: Workspace, files: list[Any]) -> dict[str, TraceNames]:
    """The trace files among the uploads, with the names their first traces offer as outcomes."""
    found = {}
    for f in files:
        names = cached_preview(ws, f.name, f.getvalue()).trace_names
        if names is not None:
            found[f.name] = names
    return found


def render_outcome_choice(ws: Workspace, files: list[Any]) -> dict[str, str]:
    """The outcome attribute chosen for each trace file among `files`, by file name (empty when there
    is no trace file, or the outcome is left as the data says)."""
    traces = trace_files(ws, files)
    if not traces:
        return {}
    offered: dict[str, str] = {}
    for names in traces.values():
        for o in names.offered:
            offered.setdefault(o.name, o.describe(names.read))
    choice = st.selectbox(LABEL, [AS_THE_DATA_SAYS, *offered], key=KEY, accept_new_options=True, help=HELP,
                          format_func=lambda v: offered.get(v, v) if v else "as the data says (a score or key under "
                                                                             "a usual name, else from errors)")
    spec = str(choice or "").strip()
    if not spec:
        return {}
    try:
        name, at_least = named_choice(spec)
    except MappingError as exc:
        st.error(str(exc), icon=":material/error:")
        return {}
    having = [file for file, names in traces.items() if name in names.seen]
    if not having:  # typed, and in no file's first traces: named for all of them, and the previews warn
        return dict.fromkeys(traces, spec)
    graded = next((g for names in traces.values() if (g := names.graded(name)) is not None), None)
    if graded is not None and at_least is None:
        spec = f"{name}>={_threshold(graded):g}"
    left = [file for file in traces if file not in having]
    if left:
        st.caption(f"{safe_label(name)} is read in {', '.join(map(safe_label, having))}; "
                   f"{', '.join(map(safe_label, left))} {'has' if len(left) == 1 else 'have'} no such name and "
                   f"{'keeps its' if len(left) == 1 else 'keep their'} outcomes as the data says.")
    return dict.fromkeys(having, spec)


def _threshold(graded: OutcomeName) -> float:
    """Where success starts on a graded name's scale (numbers other than 0 and 1), asked of the user."""
    value = st.number_input(f"Success when {graded.name} is at least", value=graded.suggested_threshold,
                            step=0.05 if (graded.high or 0) <= 1 else 1.0, format="%g",
                            key=f"{THRESHOLD_KEY}:{graded.name}",
                            help="Traces whose value is this or more are successes, the others failures; the "
                                 "preview below counts them.")
    st.caption(f"{safe_label(graded.name)} runs from {graded.low:g} to {graded.high:g} in the traces read.")
    return float(value)


def forget_outcome_choice() -> None:
    """After an import: the next upload starts from the data's own outcomes."""
    st.session_state.pop(KEY, None)
    for key in [k for k in st.session_state if str(k).startswith(THRESHOLD_KEY)]:
        st.session_state.pop(key, None)
