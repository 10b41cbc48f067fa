"""An uploaded text file (not JSON) read as an agent log through a text mapping, on the
Trajectories screen: the file's first lines beside the mapping (starting from the ReAct example),
a preview, then the import."""

from __future__ import annotations

import streamlit as st

from trace2skill.errors import MappingError
from trace2skill.ingest.text_log import EXAMPLE_MAPPING
from trace2skill.store import Workspace
from trace2skill.ui.escape import safe_label
from trace2skill.ui.import_preview import render_preview
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.uploads import Upload, import_text_log, preview_text_log

HEAD_LINES = 30


def render_text_log_form(ws: Workspace, uploads: list[Upload], n: int) -> None:
    u = uploads[n]
    k = f"traj_text_{n}_"
    with st.container(border=True, key=k + "form"):
        st.markdown(f"**Read {safe_label(u.name)} as a text log** (it is not JSON)")
        left, right = st.columns(2)
        with left:
            st.caption(f"First {HEAD_LINES} lines")
            st.code("\n".join(u.data.decode("utf-8", "replace").splitlines()[:HEAD_LINES]), language=None)
        with right:
            text = st.text_area("Text mapping (YAML): record separator, line markers, patterns", EXAMPLE_MAPPING,
                                height=260, key=k + "mapping",
                                help="See the README, 'Text logs'. The first group of a pattern is the value.")
            preview, go = st.columns(2)
            if preview.button("Preview with this mapping", key=k + "preview", icon=":material/preview:"):
                st.session_state[k + "previewed"] = text
            if go.button("Import as a text log", key=k + "import", type="primary", icon=":material/input:"):
                try:
                    uploads[n] = import_text_log(ws, u.name, u.data, text, actor=ui_reviewer())
                except MappingError as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    st.session_state["traj_reports"] = uploads
                    st.rerun()
        if st.session_state.get(k + "previewed") == text:
            try:
                render_preview(preview_text_log(ws, u.name, u.data, text))
            except MappingError as exc:
                st.error(str(exc), icon=":material/error:")
