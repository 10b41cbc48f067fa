"""The merge tree: groups of up to B patches merged by one LLM call each, a level's merges in
parallel, ⌈log_B N⌉ levels down to one patch.

Similar patches are batched together (MiniLM embeddings) so duplicates meet early. The merge
operator must cite, for every output edit, the input edits it derives from, and list every input
edit it does not use as dropped with a reason; code checks that, and carries support (lesson ids)
up the tree itself. The input edits are fenced as untrusted data, and the merger is shown the
ledger of lessons reviewers rejected for this skill so it does not bring them back. A merge whose
answer stays invalid after one correction falls back to passing its inputs up unchanged (node
status "fallback"). Every node is stored, so the tree can be drawn
live and resumed; the run is checked for cancel between levels, and a merge that ends after its
run was cancelled is not stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from trace2skill.consolidate.conflicts import edit_labels
from trace2skill.consolidate.propose import CONSOLIDATE_TAGS, edit_from, skill_context
from trace2skill.consolidate.schemas import FULL, Budget, MergeOut
from trace2skill.consolidate.targets import targeted_schema
from trace2skill.errors import RunCancelled, Trace2SkillError
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import DroppedEdit, Edit, MergeNode, Patch, content_hash
from trace2skill.prompts import fenced, load_prompt
from trace2skill.redaction import redact
from trace2skill.runs.context import Steps
from trace2skill.skill.excerpt import Need
from trace2skill.store.patches import finish_node, get_node, get_patch, save_node, save_patch
from trace2skill.textcut import cut_words


@dataclass
class TreeResult:
    root: Patch
    levels: int
    merge_calls: int


def edit_text(e: Edit) -> str:
    return f"{e.section or ''} {e.anchor or ''} {e.content}".strip()


def batch(patches: list[Patch], size: int, *, embeddings: bool = True) -> list[list[int]]:
    """Indices of `patches` in groups of at most `size`, similar patches together."""
    if size < 2:
        raise Trace2SkillError("batch size must be at least 2")
    if not embeddings or len(patches) <= size:
        return [list(range(i, min(i + size, len(patches)))) for i in range(0, len(patches), size)]
    from trace2skill.embed import similar_batches

    return similar_batches([" ".join(edit_text(e) for e in p.edits) or p.id for p in patches], size)


def _edits_text(inputs: list[Patch], labels: dict[str, Edit], support_of: Callable[[Edit], int]) -> str:
    """The input edits, fenced as untrusted data (a model wrote them from untrusted runs)."""
    blocks = []
    label_of = {e.id: lab for lab, e in labels.items()}
    for k, patch in enumerate(inputs, start=1):
        lines = [f"## Patch {k}"]
        for e in patch.edits:
            lines.append(
                f"{label_of[e.id]} [supported by {support_of(e)} runs] op={e.op} file={e.file} "
                f"section={json.dumps(e.section or '')} anchor={json.dumps(e.anchor or '')}\n"
                f"content: {e.content}\nrationale: {e.rationale}"
            )
        blocks.append("\n".join(lines))
    return fenced("edits", "\n\n".join(blocks), *CONSOLIDATE_TAGS)


LEDGER_ITEM_CHARS = 240


def ledger_context(rejected: Sequence[str], budget: Budget = FULL) -> str:
    """The merge prompt's ledger of lessons reviewers rejected for this skill (newest first),
    bounded by the budget's count and characters; "" when there are none."""
    lines: list[str] = []
    used = 0
    for text in rejected[:budget.rejected_lessons]:
        flat = " ".join(text.split())
        line = "- " + (flat if len(flat) <= LEDGER_ITEM_CHARS else flat[:LEDGER_ITEM_CHARS - 1] + "…")
        if used + len(line) > budget.rejected_chars:
            break
        lines.append(line)
        used += len(line) + 1
    if not lines:
        return ""
    return ("\n# Lessons reviewers rejected earlier for this skill (do not bring them back)\n"
            f"{fenced('rejected', chr(10).join(lines), *CONSOLIDATE_TAGS)}\n")


def merge_need(edits: Sequence[Edit]) -> Need:
    """The sections a merge needs to see whole: those its SKILL.md edits name or anchor in; their
    contents pick further sections while they fit."""
    own = [e for e in edits if e.file == "SKILL.md"]
    return Need(sections=tuple(e.section for e in own if e.section), anchors=tuple(e.anchor for e in own if e.anchor),
                texts=tuple(e.content for e in edits))


def check_merge(out: MergeOut, labels: dict[str, Edit]) -> list[str]:
    """Problems with a merge answer: unknown ids, and input edits neither used nor dropped."""
    problems = []
    cited = {i for e in out.edits for i in e.derived_from}
    dropped = {d.edit for d in out.dropped}
    for unknown in sorted((cited | dropped) - set(labels)):
        problems.append(f"{unknown} is not an input edit id")
    for label in labels:
        if label not in cited and label not in dropped:
            problems.append(f"{label} is neither used in derived_from nor listed in dropped")
    return problems


def _attempt(client: StructuredClient, messages: list[dict[str, str]], run_id: str, labels: dict[str, Edit],
             max_tokens: int | None, schema: dict[str, Any]) -> tuple[MergeOut | None, str, int]:
    """Ask once, and once more with the problems named. Returns (answer or None, last problem, calls)."""
    calls, problem = 0, ""
    for _ in range(2):
        calls += 1
        try:
            out = client.structured(messages, MergeOut, schema_name="merge", run_id=run_id,
                                    max_tokens=max_tokens, schema=schema).value
        except RunCancelled:
            raise  # cancelled, or stopped at its budget: no fallback is stored
        except (Trace2SkillError, ValidationError) as exc:
            return None, cut_words(f"{type(exc).__name__}: {exc}", 500), calls
        problems = check_merge(out, labels)
        if not problems:
            return out, "", calls
        problem = cut_words("; ".join(problems), 500, where=None)
        messages = [*messages, {"role": "assistant", "content": out.model_dump_json()},
                    {"role": "user", "content": f"That merge is not valid: {problem}. Answer again, fixing this."}]
    return None, problem, calls


def merge_group(client: StructuredClient, run_id: str, level: int, idx: int, inputs: list[Patch],
                skill_files: dict[str, str], support_of: Callable[[Edit], int], *,
                budget: Budget = FULL, max_tokens: int | None = None,
                rejected: Sequence[str] = ()) -> tuple[Patch, MergeNode, int]:
    """Merge one group of patches. `rejected`: texts of lessons reviewers rejected for this skill,
    newest first (the ledger the merger must not bring back; bounded by `budget`)."""
    out_id = content_hash([run_id, "node", level, idx, [p.id for p in inputs]])
    node = MergeNode(run_id=run_id, level=level, idx=idx, inputs=[p.id for p in inputs], output=out_id, status="done")
    edits_in = [e for p in inputs for e in p.edits]
    if len(inputs) == 1 or not edits_in:
        carried = [e.model_copy(update={"id": content_hash([out_id, k]), "derived_from": [e.id]})
                   for k, e in enumerate(edits_in)]
        node.rationale = "single input: passed up unchanged" if len(inputs) == 1 else "no edits to merge"
        return Patch(id=out_id, run_id=run_id, level=level, edits=carried), node, 0
    labels = edit_labels(inputs)  # E1, E2, …: also how the screens trace its conflicts back
    messages = [
        {"role": "system", "content": load_prompt("merger").render()},
        {"role": "user", "content": redact(load_prompt("consolidate_input").render(
            skill=skill_context(skill_files, budget.skill_chars, merge_need(edits_in), what="A merge of patches"),
            ledger=ledger_context(rejected, budget),  # the same for every merge of the run: before the edits
            what=f"{len(inputs)} patches to merge", items=_edits_text(inputs, labels, support_of), context=""))},
    ]
    answer, problem, calls = _attempt(client, messages, run_id, labels, max_tokens,
                                      targeted_schema(MergeOut, skill_files, budget, edit_labels=list(labels)))
    if answer is None:
        carried = [e.model_copy(update={"id": content_hash([out_id, k]), "derived_from": [e.id]})
                   for k, e in enumerate(edits_in)]
        node.status = "fallback"
        node.rationale = f"merge answer invalid after a retry; inputs passed up unchanged ({problem})"
        return Patch(id=out_id, run_id=run_id, level=level, edits=carried), node, calls
    merged = []
    for k, out_edit in enumerate(answer.edits):
        sources = [labels[i] for i in dict.fromkeys(out_edit.derived_from)]
        support = [s for e in sources for s in e.support]
        merged.append(edit_from(out_edit, content_hash([out_id, k]), support, [e.id for e in sources]))
    node.rationale = answer.rationale
    node.dropped = [DroppedEdit(edit_id=labels[d.edit].id, reason=d.reason) for d in answer.dropped
                    if d.edit not in {i for e in answer.edits for i in e.derived_from}]
    node.conflicts = list(answer.conflicts)
    return Patch(id=out_id, run_id=run_id, level=level, edits=merged), node, calls


def build_tree(steps: Steps, client: StructuredClient, run_id: str, leaves: list[Patch], *, batch_size: int,
               skill_files: dict[str, str], support_of: Callable[[Edit], int], concurrency: int = 8,
               embeddings: bool = True, budget: Budget = FULL, max_tokens: int | None = None,
               rejected: Sequence[str] = ()) -> TreeResult:
    """Merge `leaves` level by level until one patch remains; reuses nodes already done (resume)."""
    ws = steps.ws
    current, level, calls = list(leaves), 0, 0
    if not current:
        empty = Patch(id=content_hash([run_id, "empty"]), run_id=run_id, level=0)
        save_patch(ws.db, empty)
        return TreeResult(empty, 0, 0)
    while len(current) > 1:
        steps.checkpoint()
        level += 1
        groups = [[current[i] for i in g] for g in batch(current, batch_size, embeddings=embeddings)]
        for idx, group in enumerate(groups):
            queued = MergeNode(run_id=run_id, level=level, idx=idx, inputs=[p.id for p in group], status="queued")
            stored = get_node(ws.db, run_id, level, idx)
            if stored is None or stored["inputs"] != queued.inputs:
                save_node(ws.db, queued)
        merge = _NodeMerge(steps, client, run_id, level, skill_files, support_of, budget, max_tokens, tuple(rejected))
        results = steps.map(merge, list(enumerate(groups)), concurrency=concurrency, item_of=merge.item_of)
        current = [patch for patch, _ in results]
        calls += sum(n for _, n in results)
    return TreeResult(current[0], level, calls)


@dataclass
class _NodeMerge:
    """One merge node of a level: reused when stored as done (or fallback) with the same inputs,
    else merged and stored (only while the node is still running: not after a cancel)."""

    steps: Steps
    client: StructuredClient
    run_id: str
    level: int
    skill_files: dict[str, str]
    support_of: Callable[[Edit], int]
    budget: Budget
    max_tokens: int | None
    rejected: tuple[str, ...] = ()

    def item_of(self, job: tuple[int, list[Patch]]) -> str:
        """How the call log names this merge."""
        return f"merge L{self.level}/{job[0]}"

    def __call__(self, job: tuple[int, list[Patch]]) -> tuple[Patch, int]:
        idx, group = job
        db, inputs = self.steps.ws.db, [p.id for p in group]
        stored = get_node(db, self.run_id, self.level, idx)
        if stored and stored["status"] in ("done", "fallback") and stored["inputs"] == inputs and stored["output"]:
            return get_patch(db, stored["output"]), 0
        save_node(db, MergeNode(run_id=self.run_id, level=self.level, idx=idx, inputs=inputs, status="running"))
        try:
            patch, node, n = merge_group(self.client, self.run_id, self.level, idx, group, self.skill_files,
                                         self.support_of, budget=self.budget, max_tokens=self.max_tokens,
                                         rejected=self.rejected)
        except RunCancelled:
            raise  # the node stays as it is: re-queued when the run is resumed
        except Exception as exc:
            failed = MergeNode(run_id=self.run_id, level=self.level, idx=idx, inputs=inputs, status="failed")
            finish_node(db, failed, error=f"{type(exc).__name__}: {exc}")
            raise
        save_patch(db, patch)
        if finish_node(db, node, error=node.rationale if node.status == "fallback" else None) and self.steps.on_item:
            self.steps.on_item(f"merge L{self.level}/{idx}", node.status)
        return patch, n
