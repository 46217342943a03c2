"""`deskpilot tenant show|set`: a tenant's refund policy, approval expiry, brand, tone and staff names."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError

tenant_app = typer.Typer(
    help="Per-tenant settings (the same as GET/PUT /v1/tenant/settings).", no_args_is_help=True
)


def _service() -> Any:
    from api.audit import AuditLog
    from api.cli import _engine
    from api.tenants import TenantSettingsService

    engine = _engine()
    return TenantSettingsService(engine=engine, audit=AuditLog(engine))


# Fields holding a list: `staff_names="Anna Lee, Tom Okafor"` (comma-separated) or a JSON array; empty clears.
LIST_FIELDS = frozenset({"staff_names"})


def _list_value(value: str) -> Any:
    value = value.strip()
    if value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            typer.secho(f"error: not a JSON array: {value!r}", fg="red", err=True)
            raise typer.Exit(2) from None
    return [item.strip() for item in value.split(",") if item.strip()]


@tenant_app.command("show")
def show(tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default") -> None:
    """Print the tenant's settings as JSON (defaults for anything never set)."""
    typer.echo(json.dumps(_service().get(tenant).model_dump(), indent=2))


@tenant_app.command("set")
def set_values(
    values: Annotated[list[str], typer.Argument(help="FIELD=VALUE pairs, e.g. refund_window_days=45.")],
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
) -> None:
    """Change some settings; each value is validated as the API validates it."""
    from api.tenants import TenantSettingsPatch

    patch: dict[str, Any] = {}
    for pair in values:
        field, sep, value = pair.partition("=")
        if not sep or not field:
            typer.secho(f"error: expected FIELD=VALUE, got {pair!r}", fg="red", err=True)
            raise typer.Exit(2)
        field = field.strip()
        patch[field] = _list_value(value) if field in LIST_FIELDS else value.strip()
    try:
        updated = _service().update(tenant, TenantSettingsPatch.model_validate(patch), actor="cli")
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(p) for p in problem["loc"]) or "settings"
            typer.secho(f"error: {field}: {problem['msg']}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(updated.model_dump(), indent=2))
