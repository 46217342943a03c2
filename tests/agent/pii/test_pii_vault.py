"""The vault: stable placeholders per conversation, scoping, encryption at rest, deletion, retention."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from agent.pii import PiiVault, load_or_create_key


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vault.key"
    key = load_or_create_key(path)
    Fernet(key)  # a valid key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_damaged_key_file_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    path.write_bytes(b"not a key")
    with pytest.raises(ValueError):
        load_or_create_key(path)


def test_same_value_same_placeholder_across_calls_and_instances(
    vault: PiiVault, vault_engine: Engine, vault_key: bytes
) -> None:
    first = vault.placeholders_for(
        "acme", "c1", [("PERSON", "Dana Whitfield"), ("EMAIL", "dana@example.com")]
    )
    again = vault.placeholders_for(
        "acme", "c1", [("EMAIL", "dana@example.com"), ("PERSON", "Dana Whitfield")]
    )
    assert first == ["<PERSON_1>", "<EMAIL_2>"]
    assert again == list(reversed(first))
    reopened = PiiVault(vault_engine, vault_key)  # a restarted process
    assert reopened.placeholders_for("acme", "c1", [("PERSON", "Dana Whitfield")]) == ["<PERSON_1>"]
    assert reopened.placeholders_for("acme", "c1", [("PHONE", "555 0100")]) == ["<PHONE_3>"]


def test_spacing_case_and_separators_do_not_make_a_new_value(vault: PiiVault) -> None:
    a, b, c, d = vault.placeholders_for(
        "acme",
        "c1",
        [
            ("CARD", "4111 1111 1111 1111"),
            ("CARD", "4111-1111-1111-1111"),
            ("PERSON", "Dana Whitfield"),
            ("PERSON", "dana  WHITFIELD"),
        ],
    )
    assert a == b and c == d and a != c


def test_conversations_and_tenants_never_share_a_mapping(vault: PiiVault) -> None:
    [in_c1] = vault.placeholders_for("acme", "c1", [("PERSON", "Dana Whitfield")])
    [in_c2] = vault.placeholders_for("acme", "c2", [("PERSON", "Someone Else")])
    [other_tenant] = vault.placeholders_for("globex", "c1", [("PERSON", "Other Person")])
    assert in_c1 == in_c2 == other_tenant == "<PERSON_1>"  # numbering is per conversation
    assert vault.values_for("acme", "c1", [in_c1]) == {in_c1: "Dana Whitfield"}
    assert vault.values_for("acme", "c2", [in_c2]) == {in_c2: "Someone Else"}
    assert vault.values_for("globex", "c1", [in_c1]) == {"<PERSON_1>": "Other Person"}
    assert vault.values_for("acme", "c3", [in_c1]) == {}


def test_values_are_encrypted_at_rest(vault: PiiVault, vault_engine: Engine, vault_db: Path) -> None:
    secrets = ["Dana Whitfield", "dana.w@example.com", "4111111111111111"]
    vault.placeholders_for(
        "acme", "c1", [("PERSON", secrets[0]), ("EMAIL", secrets[1]), ("CARD", secrets[2])]
    )
    vault_engine.dispose()  # flush everything to the file
    raw = vault_db.read_bytes()
    assert b"<PERSON_1>" in raw  # the file is the real store
    for secret in secrets:
        assert secret.encode() not in raw
        assert secret.lower().replace(" ", "").encode() not in raw


def test_delete_conversation_forgets_only_that_conversation(vault: PiiVault) -> None:
    vault.placeholders_for("acme", "c1", [("PERSON", "Dana Whitfield"), ("EMAIL", "d@example.com")])
    vault.placeholders_for("acme", "c2", [("PERSON", "Dana Whitfield")])
    assert vault.delete_conversation("acme", "c1") == 2
    assert vault.values_for("acme", "c1", ["<PERSON_1>", "<EMAIL_2>"]) == {}
    assert vault.values_for("acme", "c2", ["<PERSON_1>"]) == {"<PERSON_1>": "Dana Whitfield"}
    assert vault.delete_conversation("acme", "c1") == 0


def test_purge_removes_values_unused_for_the_retention_period(vault_engine: Engine, vault_key: bytes) -> None:
    vault = PiiVault(vault_engine, vault_key, retention_days=30)
    vault.placeholders_for("acme", "c1", [("PERSON", "Dana Whitfield")])
    now = datetime.now(UTC)
    assert vault.purge_expired(now + timedelta(days=29)) == 0
    assert vault.purge_expired(now + timedelta(days=31)) == 1
    assert vault.values_for("acme", "c1", ["<PERSON_1>"]) == {}
    # A fresh value after the purge starts numbering again: nothing of the old mapping is left.
    assert vault.placeholders_for("acme", "c1", [("EMAIL", "x@example.com")]) == ["<EMAIL_1>"]


def test_concurrent_writers_in_one_conversation_agree(vault: PiiVault) -> None:
    values = [("PERSON", f"Person Number{i}") for i in range(12)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            rotated = values[offset:] + values[:offset]
            placeholders = vault.placeholders_for("acme", "busy", rotated)
            results.append([p for _, p in sorted(zip(rotated, placeholders, strict=True))])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert all(r == results[0] for r in results)  # every thread saw the same mapping
    assert sorted(results[0]) == sorted(f"<PERSON_{n}>" for n in range(1, 13))  # no gaps, no duplicates
