"""``accessflow api`` (serve the HTTP API with uvicorn) and ``accessflow token`` (mint a
development bearer token from ``ACCESSFLOW_AUTH_HS256_SECRET``)."""

from __future__ import annotations

import click

from accessflow.api.auth import MAX_TOKEN_TTL_SECONDS
from accessflow.entrypoints.cli_support import settings_of
from accessflow.settings import SettingsError


@click.command()
@click.option("--host", default=None, help="Listen address [default: ACCESSFLOW_API_HOST].")
@click.option("--port", type=int, default=None, help="Port [default: ACCESSFLOW_API_PORT].")
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the Graph-compatible HTTP API (/v1.0/identityGovernance/entitlementManagement/…)."""
    import uvicorn

    from accessflow.api.app import create_app
    from accessflow.api.auth import AuthConfigError

    settings = settings_of(ctx)
    if host:  # the start-up checks judge the address actually listened on
        settings = settings.model_copy(update={"api_host": host})
    try:
        app = create_app(settings)
    except (AuthConfigError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    # log_config=None: logging is already configured (structlog), uvicorn's goes through it.
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port if port is None else port,
        log_config=None,
        proxy_headers=True,
    )


@click.command()
@click.option("--user", required=True, help="The caller's object id (the oid and sub claims).")
@click.option("--role", "roles", multiple=True, help="A role claim; repeat for several.")
@click.option(
    "--ttl",
    type=click.IntRange(min=1, max=MAX_TOKEN_TTL_SECONDS),
    default=3600,
    show_default=True,
    help=f"Lifetime in seconds, at most {MAX_TOKEN_TTL_SECONDS} (24 h).",
)
@click.option("--admin", is_flag=True, help="Add the admin role (ACCESSFLOW_AUTH_ADMIN_ROLE).")
@click.pass_context
def token(ctx: click.Context, user: str, roles: tuple[str, ...], ttl: int, admin: bool) -> None:
    """Print a development bearer token signed with ACCESSFLOW_AUTH_HS256_SECRET."""
    from accessflow.api.auth import AuthConfigError, mint_token

    settings = settings_of(ctx)
    wanted = [*roles, settings.auth_admin_role] if admin else list(roles)
    try:
        click.echo(mint_token(settings, user, wanted, ttl))
    except AuthConfigError as exc:
        raise click.ClickException(str(exc)) from None
