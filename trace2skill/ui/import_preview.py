"""The preview the Trajectories screen shows before an Import button: what the file(s) would give
(trajectories by outcome, new and already present, warnings, grouped errors, one sample
trajectory), computed once per file and mapping and kept for the session. Nothing is written."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import streamlit as st

from trace2skill.errors import MappingError
from trace2skill.humanize import plural
from trace2skill.ingest.issue_groups import grouped_lines
from trace2skill.ingest.preview import FilePreview, outcome_counts, sample_lines
from trace2skill.store import Workspace
from trace2skill.ui.escape import safe_label
from trace2skill.ui.session_view import SPLIT_LABEL
from trace2skill.ui.uploads import preview_upload
from trace2skill.ui.words import format_words

CACHE_KEY = "traj_preview_cache"
CACHE_SIZE = 16


def cached_preview(ws: Workspace, name: str, data: bytes, mapping: dict[str, Any] | None = None,
                   outcome_attribute: str | None = None) -> FilePreview:
    """`preview_upload`, remembered for this session by file content, mapping and outcome attribute."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    key = json.dumps([str(ws.path), name, digest, mapping, outcome_attribute], sort_keys=True, default=str)
    cache: dict[str, FilePreview] = st.session_state.setdefault(CACHE_KEY, {})
    if key not in cache:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = preview_upload(ws, name, data, mapping, outcome_attribute)
    return cache[key]


def forget_previews() -> None:
    """After an import the counts change (new becomes already present): compute afresh."""
    st.session_state.pop(CACHE_KEY, None)


def render_preview(p: FilePreview) -> None:
    """One file's preview: a summary line, warnings, grouped errors and the sample."""
    if p.format is None:
        after = ("." if not any("unrecognised" in e.problem or "not JSON" in e.problem for e in p.errors) else
                 " — after Import you can map its fields." if any("unrecognised" in e.problem for e in p.errors) else
                 " — not JSON: after Import you can read it as a text log with a text mapping.")
        st.caption(f"**{safe_label(p.file)}**: format not recognised{after}")
    else:
        present = f"{p.already_present:,} already present" + (f", {p.repeated:,} repeated" if p.repeated else "")
        st.caption(f"**{safe_label(p.file)}** ({format_words(p.format)}): {p.records:,} records → "
                   f"{p.trajectories:,} trajectories ({outcome_counts(p.outcomes)}); {p.new:,} new, {present}, "
                   f"{plural(len(p.errors), 'error')}")
    if p.sessions:
        st.caption(f"{p.sessions_words}: tick *{SPLIT_LABEL}* below to analyse each task on its own.")
    if p.warnings:  # the data's own key names are in them: shown as code, never as Markdown
        st.warning(f"{len(p.warnings)} warning(s) about how the fields were found:", icon=":material/warning:")
        st.code("\n".join(p.warnings), language=None, wrap_lines=True)
    if p.errors and p.format is not None:
        st.code("\n".join(grouped_lines(p.errors, 20)), language=None, wrap_lines=True)
    if p.sample is not None:
        st.code("\n".join(sample_lines(p.sample)), language=None, wrap_lines=True)


def render_upload_previews(ws: Workspace, files: list[Any], attributes: dict[str, str]) -> None:
    """The preview of each chosen file, before the Import button (`attributes`: the outcome attribute
    of each trace file, by name, when one is chosen)."""
    st.markdown("**Preview** (nothing is imported yet)")
    for f in files:
        render_preview(cached_preview(ws, f.name, f.getvalue(), outcome_attribute=attributes.get(f.name)))


def render_mapping_preview(ws: Workspace, name: str, data: bytes, mapping: dict[str, Any], key: str) -> None:
    """A Preview button for the mapping form; the preview stays while the mapping is unchanged."""
    current = json.dumps(mapping, sort_keys=True, default=str)
    if st.button("Preview with this mapping", key=key + "preview", icon=":material/preview:"):
        st.session_state[key + "previewed"] = current
    if st.session_state.get(key + "previewed") != current:
        return
    try:
        render_preview(cached_preview(ws, name, data, mapping))
    except MappingError as exc:
        st.error(str(exc), icon=":material/error:")
