"""The re-run run kind: merge one node of a finished consolidation again, then every ancestor up to
the root, and save the result as a new proposal version (parent = the consolidation's base).

Why a reviewer does this: a merge went wrong (an insight dropped, two edits fused badly) and they
want a fresh answer for that node without redoing the whole run. A re-run is a run of its own
(kind "rerun", its config names the consolidation as `parent_run`), so it has its own progress,
cancel, resume and call log. What happens:

1. The node is merged again from its stored inputs. The merge prompt gets a short note
   ("re-run N of this merge") so the request differs from the first one: the LLM cache is bypassed
   on purpose, and a deterministic endpoint still sees that it is asked again.
2. Its output gets a new patch id (and new edit ids), so the earlier proposal's line provenance
   keeps pointing at the edits it was built from; nothing stored is overwritten.
3. Each ancestor is merged again with that one input replaced (the stored tree shape is kept: no
   re-batching), down the path to the root. Ancestors use the ordinary request (cached when their
   inputs read the same as before). The run is checked for cancel between nodes.
4. The new root is applied to the base deterministically, linted and saved as a proposal version
   with its line origins; the consolidation's merge nodes and counters are updated in one
   transaction at the end. Until then nothing of the consolidation changes, so a failed or
   cancelled re-run leaves it exactly as it was (resume the re-run to try again).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from trace2skill import runs
from trace2skill.consolidate.conflicts import run_conflicts
from trace2skill.consolidate.run import ConsolidationResult, Plan, load_plan, propose_version, report_lines
from trace2skill.consolidate.tree import merge_group
from trace2skill.errors import NotFoundError, RunStateError, Trace2SkillError
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import MergeNode, Patch, Run, content_hash, utcnow
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import runs as run_store
from trace2skill.store.patches import get_patch, list_nodes, save_node, save_patch

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


def create_rerun(ws: Workspace, run_id: str, level: int, idx: int, *, base_url: str | None = None,
                 model: str | None = None) -> str:
    """A queued re-run of node (level, idx) of the finished consolidation `run_id`, on the given
    endpoint (a reviewer may re-run a bad merge on a stronger model; None: the embedded model)."""
    parent = run_store.get_run(ws.db, run_id)
    if parent.kind != "consolidation":
        raise Trace2SkillError(f"run {parent.id} is a {parent.kind} run, not a consolidation")
    if parent.status != "done":
        raise RunStateError(f"run {parent.id} is {parent.status}: a subtree can be re-run once the run is done")
    path_to_root(list_nodes(ws.db, parent.id), level, idx)  # the node exists and its path is complete
    earlier = run_store.list_runs(ws.db, "rerun", limit=1000, parent=parent.id)
    if any(r.is_active for r in earlier):
        raise RunStateError(f"a re-run of run {parent.id} is already under way: wait for it, or cancel it")
    config = {"parent_run": parent.id, "level": level, "idx": idx, "n": len(earlier) + 1,
              "base_url": base_url, "model": model}
    return runs.create(ws, "rerun", config, [])


@dataclass
class _Chain:
    parent: Run
    plan: Plan
    nodes: list[dict[str, Any]]  # the re-run node, then its ancestors
    n: int


def _load(ws: Workspace, config: dict[str, Any]) -> _Chain:
    parent = run_store.get_run(ws.db, config["parent_run"])
    chain = path_to_root(list_nodes(ws.db, parent.id), int(config["level"]), int(config["idx"]))
    return _Chain(parent, load_plan(ws, parent.config), chain, int(config["n"]))


def _merge_chain(ctx: runs.RunContext, chain: _Chain) -> tuple[list[MergeNode], int]:
    """Merge the chain bottom up (a worker thread each, abandoned on cancel)."""
    db, plan = ctx.ws.db, chain.plan
    replaced: dict[str, str] = {}
    new_nodes: list[MergeNode] = []
    calls = 0
    for k, stored in enumerate(chain.nodes):
        ctx.checkpoint()
        inputs = [get_patch(db, replaced.get(p, p)) for p in stored["inputs"]]
        merger = _NotedClient(ctx.client, RERUN_NOTE.format(n=chain.n)) if k == 0 else ctx.client
        patch, node, used = ctx.call(functools.partial(
            merge_group, merger, chain.parent.id, stored["level"], stored["idx"], inputs, plan.base.files,
            plan.support_of, budget=plan.config.budget(), max_tokens=plan.config.max_tokens, rejected=plan.rejected))
        if k == 0:
            patch, node = _rekey(patch, node, chain.n)
        save_patch(db, patch)
        replaced[stored["output"]] = patch.id
        new_nodes.append(node)
        calls += used
        ctx.set_counters(step=k + 1, steps=len(chain.nodes))
    return new_nodes, calls


def _execute(ctx: runs.RunContext) -> None:
    chain = _load(ctx.ws, ctx.config)
    level, idx = chain.nodes[0]["level"], chain.nodes[0]["idx"]
    new_nodes, calls = _merge_chain(ctx, chain)
    ctx.checkpoint()
    root = get_patch(ctx.ws.db, new_nodes[-1].output or "")
    outcome = propose_version(ctx.ws, chain.parent.id, chain.plan, root, message=(
        f"proposal of consolidation run {chain.parent.id} (re-run {chain.n} of node L{level}/{idx})"))
    outcome.levels, outcome.merge_calls = chain.nodes[-1]["level"], calls
    outcome.proposals = chain.parent.progress.done
    rerun = {"n": chain.n, "level": level, "idx": idx, "version": outcome.version, "merge_calls": calls,
             "run": ctx.run.id, "created": utcnow()}
    with write_transaction(ctx.ws.db):
        for node in new_nodes:
            save_node(ctx.ws.db, node, error=node.rationale if node.status == "fallback" else None)
        outcome.conflicts = [c.as_dict() for c in run_conflicts(ctx.ws.db, chain.parent.id, outcome.conflicts)]
        run_store.set_counters(ctx.ws.db, chain.parent.id, {
            "version": outcome.version, "applied": outcome.applied, "rejected": outcome.rejected,
            "conflicts": outcome.conflicts, "findings": outcome.findings, "moved": outcome.moved,
            "budget": outcome.budget,
            "reruns": [*chain.parent.counters.get("reruns", []), rerun]})
    ctx.set_counters(**outcome.as_dict())


def _report(ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    if "version" not in run.counters:
        return [], {}
    parent = run_store.get_run(ws.db, run.config["parent_run"])
    result = ConsolidationResult.from_counters(parent.id, run.counters)
    return report_lines(result, parent.config.get("base_version") or ""), result.as_dict()


runs.register(runs.RunKind("rerun", _execute, items="merge nodes", report=_report))
