"""`deskpilot keys create|list|rotate|revoke`: the same operations as the /v1/keys admin API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def _engine() -> Any:
    from api.cli import _engine as engine

    return engine()


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def _public(row: Any) -> dict[str, Any]:
    from api.auth import is_active

    return {
        "id": row.id,
        "tenant": row.tenant,
        "name": row.name,
        "scopes": row.scopes,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "active": is_active(row),
    }


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: agent,integration,admin,approve.")] = "agent",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    expires_in_days: Annotated[
        float | None, typer.Option(help="Refused after this many days (default: until revoked).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from api.auth import create_key, parse_scopes
    from api.models import utcnow

    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    try:
        row, secret = create_key(
            _engine(), tenant=tenant, scopes=parse_scopes(scopes), name=name, expires_at=expires_at
        )
    except ValueError as error:
        _fail(str(error))
    if as_json:
        typer.echo(json.dumps({"key": secret, **_public(row)}))
    else:
        typer.echo(secret)
        typer.secho(f"key {row.id} for tenant {row.tenant}, scopes {','.join(row.scopes)}", err=True)


@keys_app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Keys with their scopes, expiry and last use; never the secrets."""
    from api.auth import list_keys

    rows = [_public(row) for row in list_keys(_engine(), tenant=tenant)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "active" if row["active"] else ("revoked" if row["revoked_at"] else "expired")
        typer.echo(
            f"{row['id']}  {row['tenant']:<16} {','.join(row['scopes']):<28} {state:<8} "
            f"last used {row['last_used_at'] or 'never'}  {row['name']}"
        )


KeyArg = Annotated[str, typer.Argument(help="The key's id (key_...) or the key itself (dp_...).")]


@keys_app.command("rotate")
def rotate(
    key: KeyArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A new secret with the same tenant, scopes, name and expiry; the old one stops working at once."""
    from api.auth import rotate_key

    rotated = rotate_key(_engine(), key)
    if rotated is None:
        _fail("no such active key")
        return
    row, secret = rotated
    if as_json:
        typer.echo(json.dumps({"key": secret, **_public(row)}))
    else:
        typer.echo(secret)
        typer.secho(f"key {row.id} replaces the old one for tenant {row.tenant}", err=True)


@keys_app.command("revoke")
def revoke(key: KeyArg) -> None:
    """Revoke a key: it answers 401 from the next request on, on every process."""
    from api.auth import revoke_key

    row = revoke_key(_engine(), key)
    if row is None:
        _fail("no such key" if key.startswith("dp_") else f"no key {key}")
        return
    typer.echo(f"key {row.id} revoked")
