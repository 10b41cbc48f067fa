"""A skill version's text on the Skills screen: its files as a tree, each read rendered (markdown,
safely: no HTML, no fetched images) or raw."""

from __future__ import annotations

from pathlib import PurePosixPath

import streamlit as st

from trace2skill.models import SkillVersion
from trace2skill.ui.escape import safe_label
from trace2skill.ui.review_view import preview_of


def file_tree(paths: list[str]) -> dict[str, str]:
    """Path -> its label in the tree, in tree order: SKILL.md first, then top-level files, then each
    folder's files under their folder (":material/folder: references › forms.md")."""
    ordered = sorted(paths, key=lambda p: (p != "SKILL.md", len(PurePosixPath(p).parts) > 1, PurePosixPath(p).parts))
    labels: dict[str, str] = {}
    for path in ordered:
        parts = PurePosixPath(path).parts
        where = " › ".join(parts[:-1])
        labels[path] = f":material/description: {parts[0]}" if len(parts) == 1 else \
            f":material/folder: {where} › {parts[-1]}"
    return labels


def render_skill_text(version: SkillVersion, key: str) -> None:
    """The files of `version`: pick one in the tree, read it rendered or raw."""
    labels = file_tree(list(version.files))
    files = list(labels)
    tree, body = st.columns([1, 3])
    with tree:
        st.caption(f"{len(files)} {'file' if len(files) == 1 else 'files'}")
        picked = st.radio("File", files, format_func=labels.get, key=f"{key}_file", label_visibility="collapsed")
    with body:
        text = version.files.get(picked or "SKILL.md", "")
        preview = preview_of(picked or "SKILL.md", text)
        mode = st.segmented_control("Show", ["Rendered", "Raw"], default="Rendered" if preview.markdown else "Raw",
                                    required=True, key=f"{key}_mode", disabled=not preview.markdown)
        st.caption(f"{safe_label(picked or 'SKILL.md', 120)} · {len(text.splitlines())} lines")
        with st.container(height=560, border=True, key=f"{key}_body"):
            if mode == "Raw" or not preview.markdown:
                st.code(text, language=preview.language if not preview.markdown else "markdown", wrap_lines=True)
                return
            for name, value in preview.frontmatter.items():
                st.caption(f"{safe_label(name, 40)}: {safe_label(value, 300)}")
            st.markdown(preview.body)
