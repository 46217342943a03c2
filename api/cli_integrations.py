"""`deskpilot integrations add|list|remove|rotate`: the integrations registry from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from api.integrations import IntegrationService

integrations_app = typer.Typer(
    help="Channel integrations (zendesk, jira, freshdesk, generic, slack).", no_args_is_help=True
)

TenantOption = Annotated[str, typer.Option(help="Tenant the integration belongs to.")]
SecretOption = Annotated[
    list[str] | None, typer.Option("--secret", help="NAME=VALUE, repeatable (or use --secrets-json -).")
]
SecretsJsonOption = Annotated[
    str | None,
    typer.Option(help="The secrets as a JSON object; '-' reads it from stdin, out of the shell history."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@integrations_app.command("add")
def add(
    provider: Annotated[str, typer.Argument(help="zendesk, jira, freshdesk, generic or slack.")],
    tenant: TenantOption = "default",
    config: Annotated[
        list[str] | None,
        typer.Option("--config", help="NAME=VALUE, repeatable; a VALUE in [...] or {...} is JSON."),
    ] = None,
    config_json: Annotated[str | None, typer.Option(help="The config as a JSON object.")] = None,
    secret: SecretOption = None,
    secrets_json: SecretsJsonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an integration; prints its id and the inbound URL to give the provider."""
    from api.integrations import IntegrationPublic

    values = {**_json_object(config_json, "--config-json"), **_pairs(config or [], "--config", decode=True)}
    secrets = {**_json_object(secrets_json, "--secrets-json"), **_pairs(secret or [], "--secret")}
    with _service() as service:
        integration = service.create(
            tenant=_tenant(tenant), provider=provider, config=values, secrets=secrets, actor="cli"
        )
    public = IntegrationPublic.of(integration)
    if as_json:
        typer.echo(public.model_dump_json(indent=2))
        return
    typer.echo(f"{public.id}  {public.inbound_url}")
    typer.secho(f"{public.provider} integration for tenant {tenant}; secrets sealed", err=True)


@integrations_app.command("list")
def list_integrations(tenant: TenantOption = "default", as_json: JsonOption = False) -> None:
    """The tenant's integrations, without their secrets."""
    from api.integrations import IntegrationPublic

    with _service() as service:
        rows = [IntegrationPublic.of(i) for i in service.list_for_tenant(_tenant(tenant))]
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        typer.echo(f"no integrations for tenant {tenant}")
    for row in rows:
        rotated = f", rotated {row.rotated_at:%Y-%m-%d %H:%M}" if row.rotated_at else ""
        names = ", ".join(row.secret_names)
        typer.echo(f"{row.id}  {row.provider:<9}  {row.inbound_url}  (secrets: {names}{rotated})")


@integrations_app.command("remove")
def remove(integration_id: Annotated[str, typer.Argument()], tenant: TenantOption = "default") -> None:
    """Delete an integration and its secrets; its inbound URL answers 404 from then on."""
    with _service() as service:
        service.delete(tenant=_tenant(tenant), integration_id=integration_id, actor="cli")
    typer.echo(f"removed {integration_id}")


@integrations_app.command("rotate")
def rotate(
    integration_id: Annotated[str, typer.Argument()],
    tenant: TenantOption = "default",
    secret: SecretOption = None,
    secrets_json: SecretsJsonOption = None,
    grace_hours: Annotated[
        float | None,
        typer.Option(min=0, max=720, help="How long the previous secrets stay valid (default: the setting)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the whole secret set; the previous one keeps verifying deliveries during the grace period."""
    from api.integrations import IntegrationPublic

    secrets = {**_json_object(secrets_json, "--secrets-json"), **_pairs(secret or [], "--secret")}
    with _service() as service:
        integration = service.rotate(
            tenant=_tenant(tenant),
            integration_id=integration_id,
            secrets=secrets,
            actor="cli",
            grace_hours=grace_hours,
        )
    public = IntegrationPublic.of(integration)
    if as_json:
        typer.echo(public.model_dump_json(indent=2))
        return
    until = public.previous_secrets_valid_until
    typer.echo(
        f"rotated {public.id}; previous secrets valid until {until:%Y-%m-%d %H:%M} UTC"
        if until
        else f"rotated {public.id}; previous secrets no longer valid"
    )


@contextmanager
def _service() -> Iterator[IntegrationService]:
    from api import cli
    from api.audit import AuditLog
    from api.errors import ApiError
    from api.runtime import build_integrations

    engine = cli._engine()
    try:
        yield build_integrations(cli.get_settings(), engine, AuditLog(engine))
    except ApiError as error:
        typer.secho(f"error: {error.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


def _tenant(tenant: str) -> str:
    from api.auth import validate_tenant

    try:
        return validate_tenant(tenant)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--tenant") from None


def _pairs(items: list[str], option: str, *, decode: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter("expected NAME=VALUE", param_hint=option)
        values[name.strip()] = _decode(value, option) if decode and value.startswith(("[", "{")) else value
    return values


def _json_object(raw: str | None, option: str) -> dict[str, Any]:
    if raw is None:
        return {}
    value = _decode(sys.stdin.read() if raw == "-" else raw, option)
    if not isinstance(value, dict):
        raise typer.BadParameter("expected a JSON object", param_hint=option)
    return value


def _decode(raw: str, option: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        # The text may be a secret: say where the JSON is broken, not what it says.
        raise typer.BadParameter("not valid JSON", param_hint=option) from None
