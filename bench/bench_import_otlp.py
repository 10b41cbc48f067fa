"""Trace import benchmark: stream a generated OTLP JSON file of N agent traces into a fresh workspace.

The file looks like what opentelemetry-instrumentation-openai-v2 + opentelemetry-util-genai write
through the SDK's FileSpanExporter behind a BatchSpanProcessor: one export per line, up to 512 spans
each, spans in the order they end (a trace's chat and tool spans, then its invoke_agent root), so
traces straddle lines. Messages are on the spans (`gen_ai.input.messages` / `gen_ai.output.messages`,
capture mode span_only); every tenth run's tool fails and every twentieth agent ends with an error.

Prints traces/s (the median of three imports) and peak memory, and checks memory stays flat by importing
a file 4x smaller first.
Target: >= 2,000 traces/s, flat memory.

    python bench/bench_import_otlp.py [--n 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import compare_sizes  # noqa: E402

BATCH_SPANS = 512
TOOLS = ["search_flights", "get_user_details", "book_reservation", "cancel_reservation", "calculate"]
SYSTEM = "You are an airline agent. Follow the policy and use the tools."


def _attr(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def _span(trace: str, span: str, parent: str, name: str, start: int, end: int, attrs: dict, error: str = "") -> dict:
    return {"traceId": trace, "spanId": span, "parentSpanId": parent, "flags": 256, "name": name,
            "kind": 3 if name.startswith("chat") else 1, "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
            "attributes": [_attr(k, v) for k, v in attrs.items()],
            "status": {"code": 2, "message": error} if error else {}}


def _text(role: str, text: str) -> dict:
    return {"role": role, "parts": [{"content": text, "type": "text"}]}


def make_trace(i: int, rng: random.Random, clock: int) -> list[dict]:
    """One agent run's spans, in the order they end."""
    trace, root = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}"
    question = f"Task {i}: please change my booking {rng.randrange(10**6)}"
    history = [_text("system", SYSTEM), _text("user", question)]
    spans, t = [], clock + 1000
    failing = i % 10 == 0
    for turn in range(rng.randint(3, 6)):
        call = {"arguments": {"id": rng.randrange(1000), "n": turn}, "name": rng.choice(TOOLS),
                "id": f"call_{i}_{turn}", "type": "tool_call"}
        output = [{"role": "assistant", "parts": [call], "finish_reason": "tool_calls"}]
        spans.append(_span(trace, f"{rng.getrandbits(64):016x}", root, "chat gen-1", t, t + 900_000, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gen-1", "gen_ai.provider.name": "openai",
            "gen_ai.response.finish_reasons": ["tool_calls"], "gen_ai.response.model": "gen-1",
            "gen_ai.usage.input_tokens": 40 + 20 * turn, "gen_ai.usage.output_tokens": 12,
            "gen_ai.input.messages": json.dumps(history), "gen_ai.output.messages": json.dumps(output)}))
        t += 1_000_000
        error = "not found" if failing and turn == 0 else ""
        result = f"Error: {error}" if error else json.dumps({"ok": True, "value": round(rng.random(), 6)})
        spans.append(_span(trace, f"{rng.getrandbits(64):016x}", root, f"execute_tool {call['name']}", t, t + 50_000, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call["name"], "gen_ai.tool.call.id": call["id"],
            "gen_ai.tool.call.arguments": json.dumps(call["arguments"]), "gen_ai.tool.call.result": result}, error))
        t += 100_000
        history += [{"role": "assistant", "parts": [call]},
                    {"role": "tool", "parts": [{"response": result, "id": call["id"], "type": "tool_call_response"}]}]
    answer = [{"role": "assistant", "parts": [{"content": f"Done with task {i}.", "type": "text"}],
               "finish_reason": "stop"}]
    spans.append(_span(trace, f"{rng.getrandbits(64):016x}", root, "chat gen-1", t, t + 700_000, {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gen-1", "gen_ai.provider.name": "openai",
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.input.messages": json.dumps(history),
        "gen_ai.output.messages": json.dumps(answer)}))
    gave_up = "gave up after 6 model calls" if i % 20 == 0 else ""
    spans.append(_span(trace, root, "", "invoke_agent airline", clock, t + 800_000, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "airline",
        "gen_ai.input.messages": json.dumps([_text("user", question)])}, gave_up))
    return spans


def write_file(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    resource = {"attributes": [_attr("service.name", "airline-agent"), _attr("telemetry.sdk.language", "python")]}
    scope = {"name": "opentelemetry.util.genai.handler", "version": "1.1b0"}
    pending: list[dict] = []

    def flush(f) -> None:
        f.write(json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [
            {"scope": scope, "spans": pending}]}]}, separators=(",", ":")) + "\n")
        pending.clear()

    with path.open("w") as f:
        for i in range(n):
            for span in make_trace(i, rng, 1_790_000_000_000_000_000 + i * 10_000_000_000):
                pending.append(span)
                if len(pending) >= BATCH_SPANS:
                    flush(f)
        if pending:
            flush(f)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="imports of the large file; the median counts")
    args = parser.parse_args(argv)
    return compare_sizes(lambda path, n, seed: write_file(path, n, seed=seed), args.n, "traces", label="OTLP trace ",
                         repeat=args.repeat)


if __name__ == "__main__":
    main()
