"""Re-run one merge node of a finished consolidation, then every ancestor up to the root, and save
the result as a new proposal version (parent = the run's base).

Why a reviewer does this: a merge went wrong (an insight dropped, two edits fused badly) and they
want a fresh answer for that node without redoing the whole run. What happens:

1. The node is merged again from its stored inputs. The merge prompt gets a short note
   ("re-run N of this merge") so the request differs from the first one: the LLM cache is bypassed
   on purpose, and a deterministic endpoint still sees that it is asked again.
2. Its output gets a new patch id (and new edit ids), so the earlier proposal's line provenance
   keeps pointing at the edits it was built from; nothing stored is overwritten.
3. Each ancestor is merged again with that one input replaced (the stored tree shape is kept: no
   re-batching), down the path to the root. Ancestors use the ordinary request (cached when their
   inputs read the same as before).
4. The new root is applied to the base deterministically, linted and saved as a proposal version
   with its line origins; merge nodes are updated in one transaction at the end. On failure the
   nodes are restored and the run's earlier proposal stays as it was.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from trace2skill.analysis.analysts import StructuredClient
from trace2skill.consolidate.run import ConsolidationConfig, ConsolidationResult, _trajectory_text
from trace2skill.consolidate.tree import merge_group
from trace2skill.errors import NotFoundError, Trace2SkillError
from trace2skill.models import Edit, MergeNode, Patch, content_hash, utcnow
from trace2skill.provenance import save_line_origins
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.lint import lint_skill
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import runs as run_store
from trace2skill.store.patches import get_patch, list_nodes, node_model, save_node, save_patch
from trace2skill.store.skills import folder_of, get_version, locked_sections, save_version

RERUN_NOTE = ("(Re-run {n} of this merge, requested by a reviewer: merge these patches afresh, following the "
              "instructions above.)")


class _NotedClient:
    """Passes calls through with a note appended to the first user message."""

    def __init__(self, client: StructuredClient, note: str):
        self.client, self.note = client, note

    def structured(self, messages, output, **kwargs):  # type: ignore[no-untyped-def]
        first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages) - 1)
        noted = [dict(m) for m in messages]
        noted[first_user]["content"] = f"{noted[first_user]['content']}\n\n{self.note}"
        return self.client.structured(noted, output, **kwargs)


def path_to_root(nodes: list[dict[str, Any]], level: int, idx: int) -> list[dict[str, Any]]:
    """The stored node (level, idx) and its ancestors, bottom up (parent = the node of the next
    level whose inputs hold this node's output)."""
    by_key = {(n["level"], n["idx"]): n for n in nodes}
    node = by_key.get((level, idx))
    if node is None:
        raise NotFoundError(f"the run has no merge node at level {level}, index {idx}")
    top = max(n["level"] for n in nodes)
    chain = [node]
    while chain[-1]["level"] < top:
        current = chain[-1]
        parents = [n for n in nodes if n["level"] == current["level"] + 1 and current["output"] in n["inputs"]]
        if len(parents) != 1:
            raise Trace2SkillError(f"the merge tree of run {node['run_id']} is incomplete above level "
                                   f"{current['level']} index {current['idx']}; resume the run first")
        chain.append(parents[0])
    return chain


def _rekey(patch: Patch, node: MergeNode, n: int) -> tuple[Patch, MergeNode]:
    """A fresh patch id (and edit ids) for a re-run output, so earlier provenance stays valid."""
    new_id = content_hash([patch.id, "rerun", n])
    edits = [e.model_copy(update={"id": content_hash([new_id, k])}) for k, e in enumerate(patch.edits)]
    return (Patch(id=new_id, run_id=patch.run_id, level=patch.level, edits=edits),
            node.model_copy(update={"output": new_id}))


def _context(ws: Workspace, run: dict[str, Any]) -> tuple[ConsolidationConfig, dict[str, Any], dict[str, str]]:
    data = dict(run["config"])
    lesson_ids = data.pop("lesson_ids", [])
    config = ConsolidationConfig(**data)
    base = get_version(ws.db, config.base_version or "")
    trajectory_of = {r[0]: r[1] for r in ws.db.execute(
        "SELECT id, trajectory_id FROM lessons WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(lesson_ids)])}
    return config, base, trajectory_of


def _error_of(node: MergeNode) -> str | None:
    return node.rationale if node.rationale.startswith("merge answer invalid") else None


def rerun_subtree(ws: Workspace, run_id: str, level: int, idx: int, client: StructuredClient) -> ConsolidationResult:
    """Re-merge node (level, idx) of a finished consolidation run and its ancestors; apply the new
    root to the base and save a new proposal version (an identical result returns the existing
    version: versions are content-addressed)."""
    run = run_store.get_run(ws.db, run_id)
    if run["kind"] != "consolidation":
        raise Trace2SkillError(f"run {run_id} is a {run['kind']} run, not a consolidation")
    if run["status"] != "done":
        raise Trace2SkillError(f"run {run_id} is {run['status']}: a subtree can be re-run once the run is done")
    nodes = list_nodes(ws.db, run_id)
    chain = path_to_root(nodes, level, idx)
    reruns = list(run["counters"].get("reruns", []))
    n = len(reruns) + 1
    config, base, trajectory_of = _context(ws, run)

    def support_of(edit: Edit) -> int:
        return len({trajectory_of.get(s, s) for s in edit.support})

    run_store.set_run_status(ws.db, run_id, "running")
    try:
        for stored in chain:  # shown as running in the live tree; restored on failure
            save_node(ws.db, node_model({**stored, "status": "running"}), error=stored.get("error"))
        replaced: dict[str, str] = {}
        new_nodes: list[MergeNode] = []
        calls = 0
        for k, stored in enumerate(chain):
            inputs = [get_patch(ws.db, replaced.get(p, p)) for p in stored["inputs"]]
            merger = _NotedClient(client, RERUN_NOTE.format(n=n)) if k == 0 else client
            patch, node, used = merge_group(merger, run_id, stored["level"], stored["idx"], inputs, base["files"],
                                            support_of, budget=config.budget(),
                                            max_tokens=config.max_tokens)
            if k == 0:
                patch, node = _rekey(patch, node, n)
            save_patch(ws.db, patch)
            replaced[stored["output"]] = patch.id
            new_nodes.append(node)
            calls += used
        root = get_patch(ws.db, new_nodes[-1].output or "")
        outcome = _propose(ws, run_id, config, base, root, trajectory_of, support_of,
                           message=f"proposal of consolidation run {run_id} (re-run {n} of node L{level}/{idx})")
    except BaseException as exc:
        for stored in chain:
            save_node(ws.db, node_model(stored), error=stored.get("error"))
        run_store.set_run_status(ws.db, run_id, "done",
                                 error=f"re-run of node L{level}/{idx} failed: {type(exc).__name__}: {exc}"[:2000])
        raise
    outcome.levels, outcome.merge_calls = chain[-1]["level"], calls
    outcome.proposals = run["progress"]["done"]
    reruns.append({"n": n, "level": level, "idx": idx, "version": outcome.version, "merge_calls": calls,
                   "created": utcnow()})
    counters = {**run["counters"], "version": outcome.version, "applied": outcome.applied,
                "rejected": outcome.rejected, "conflicts": outcome.conflicts, "findings": outcome.findings,
                "reruns": reruns}
    with write_transaction(ws.db):
        for node in new_nodes:
            save_node(ws.db, node, error=_error_of(node))
        ws.db.execute("UPDATE runs SET counters = ? WHERE id = ?", [json.dumps(counters), run_id])
    run_store.set_run_status(ws.db, run_id, "done")
    return outcome


def _propose(ws: Workspace, run_id: str, config: ConsolidationConfig, base: dict[str, Any], root: Patch,
             trajectory_of: dict[str, str], support_of, *, message: str) -> ConsolidationResult:  # type: ignore[no-untyped-def]
    """Apply the root patch to the base, lint, save the proposal version with its line origins
    (the same steps as the end of `execute_consolidation`)."""
    base_folder = folder_of(base)
    result = apply_patch(base_folder, root, locked_sections=locked_sections(ws.db, base["skill"]),
                         support={e.id: support_of(e) for e in root.edits}, min_support=config.min_support,
                         move_low_support=config.move_low_support, dirname=base["skill"])
    by_trajectory: dict[str, int] = defaultdict(int)
    for t in trajectory_of.values():
        by_trajectory[t] += 1
    texts = {t: _trajectory_text(ws, t) for t in sorted(by_trajectory)}
    findings = list(result.findings) + lint_skill(result.skill, base_folder, trajectory_texts=texts)
    version = save_version(ws.db, base["skill"], result.skill.as_files(), source="proposal", parent=base["id"],
                           run_id=run_id, message=message)
    save_line_origins(ws.db, version, result.line_origins, run_id)
    return ConsolidationResult(
        run_id=run_id, version=version, levels=0, merge_calls=0, proposals=0, applied=len(result.applied),
        rejected=[r._asdict() for r in result.rejected],
        conflicts=[{"edit_ids": list(c.edit_ids), "reason": c.reason} for c in result.conflicts],
        findings=[asdict(f) for f in findings])
