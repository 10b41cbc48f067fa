"""Strict JSON schemas for structured output, and lenient parsing of the model's answer.

`strict_schema(Model)` turns pydantic's `model_json_schema()` into what OpenAI's
`response_format={"type": "json_schema", "strict": true}` accepts and llama.cpp's grammar
compiler enforces: every object closed (`additionalProperties: false`) with all its properties
required, `$ref`s inlined (recursive ones keep their `$defs`), `oneOf` -> `anyOf`, and no
`default`/`title` keys. Bounds declared on the model (`maxLength`, `maxItems`, `minimum`, ...) are
kept, so a small model cannot ramble past them.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import BaseModel

from trace2skill.textcut import cut_words

_DROP_KEYS = {"default", "title", "examples"}
_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict-mode JSON schema of a pydantic model (a new dict each call)."""
    raw = copy.deepcopy(model.model_json_schema())
    defs: dict[str, Any] = raw.pop("$defs", {})
    recursive = _recursive_defs(defs)
    if "$ref" in raw:  # a recursive root model: the root itself must be an object schema
        raw = {**copy.deepcopy(defs[_ref_name(raw.pop("$ref"))]), **raw}
    out = _convert(raw, defs, recursive, ())
    kept = {name: _convert(defs[name], defs, recursive, (name,)) for name in sorted(recursive)}
    if kept:
        out["$defs"] = kept
    return out


def _ref_name(ref: str) -> str:
    if not ref.startswith("#/$defs/"):
        raise ValueError(f"unsupported $ref {ref!r}: only local #/$defs/ references are handled")
    return ref[len("#/$defs/"):]


def _refs_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(_ref_name(node["$ref"]))
        for value in node.values():
            found |= _refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs_in(value)
    return found


def _recursive_defs(defs: dict[str, Any]) -> set[str]:
    """Names of definitions that can reach themselves through $refs (these cannot be inlined)."""
    edges = {name: _refs_in(body) for name, body in defs.items()}
    recursive: set[str] = set()
    for start in defs:
        stack, seen = list(edges[start]), set()
        while stack:
            name = stack.pop()
            if name == start:
                recursive.add(start)
                break
            if name in seen or name not in edges:
                continue
            seen.add(name)
            stack.extend(edges[name])
    return recursive


def _convert(node: Any, defs: dict[str, Any], recursive: set[str], trail: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_convert(item, defs, recursive, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        siblings = {k: v for k, v in node.items() if k != "$ref" and k not in _DROP_KEYS}
        if name in recursive or name in trail:
            return {"$ref": node["$ref"], **_convert(siblings, defs, recursive, trail)}
        if name not in defs:
            raise ValueError(f"$ref {node['$ref']!r} has no definition")
        target = _convert(defs[name], defs, recursive, trail + (name,))
        target.update(_convert(siblings, defs, recursive, trail))
        return target
    if len(node.get("allOf", [])) == 1:  # pydantic wraps a described $ref in allOf
        (inner,) = node["allOf"]
        rest = {k: v for k, v in node.items() if k != "allOf"}
        merged = _convert(inner, defs, recursive, trail)
        merged.update(_convert(rest, defs, recursive, trail))
        return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "oneOf":
            key = "anyOf"
        if key == "properties":
            out[key] = {name: _convert(sub, defs, recursive, trail) for name, sub in value.items()}
        else:
            out[key] = _convert(value, defs, recursive, trail)
    free_form = isinstance(out.get("additionalProperties"), dict)  # dict[str, X]: left open
    if (out.get("type") == "object" or "properties" in out) and not free_form:
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def extract_json_text(content: str) -> str:
    """The JSON part of an answer: strips a surrounding ``` fence some models add anyway."""
    match = _FENCE.match(content)
    return match.group(1) if match else content.strip()


def describe_validation_error(exc: Exception, limit: int = 600) -> str:
    """A short, model-readable description of why an answer was rejected."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors(include_url=False, include_context=False, include_input=False)
        except TypeError:
            items = errors()
        parts = []
        for item in items[:6]:
            loc = ".".join(str(p) for p in item.get("loc", ())) or "(root)"
            parts.append(f"{loc}: {item.get('msg', 'invalid')}")
        if len(items) > 6:
            parts.append(f"... and {len(items) - 6} more")
        text = "; ".join(parts)
    elif isinstance(exc, json.JSONDecodeError):
        text = f"not valid JSON ({exc.msg} at position {exc.pos})"
    else:
        text = str(exc)
    return cut_words(text, limit, where=None)
