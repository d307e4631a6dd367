"""The ``accessflow`` command line. Parsing is click's; the work is bootstrap's and below."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import asyncpg
import click
from aiokafka.errors import KafkaConnectionError

from accessflow import __version__, bootstrap
from accessflow.adapters.connectors_config import ConnectorsConfigError
from accessflow.adapters.kafka.access import KafkaAccessRefused
from accessflow.api.cli import api, token
from accessflow.client.cli import approvals, assignments, packages, requests, submit
from accessflow.entrypoints.cli_ops import dlq, events
from accessflow.entrypoints.cli_parked import outbox
from accessflow.entrypoints.cli_support import run, settings_of
from accessflow.settings import SettingsError


class _Commands(click.Group):
    """Every subcommand: a server that refuses us (Kafka's login, a certificate, the database
    URL's TLS settings) ends it with the reason in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KafkaAccessRefused, asyncpg.ClientConfigurationError) as exc:
            raise click.ClickException(str(exc).splitlines()[0]) from None
        except KafkaConnectionError as exc:  # the broker is away (a one-shot command: no wait)
            raise click.ClickException(f"Kafka: {exc}") from None
        except ssl.SSLCertVerificationError as exc:  # Kafka's are KafkaAccessRefused already
            raise click.ClickException(
                f"PostgreSQL: TLS certificate verification failed ({exc.verify_message}); "
                "check sslrootcert= in ACCESSFLOW_DATABASE_URL"
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accessflow")
def main() -> None:
    """accessflow: Graph-compatible access package assignment requests on Kafka and PostgreSQL."""


@main.command()
@click.option("--topics/--no-topics", default=True, help="Also create the Kafka topics.")
@click.pass_context
def migrate(ctx: click.Context, topics: bool) -> None:
    """Apply pending database migrations and ensure the Kafka topics exist (idempotent)."""
    settings = settings_of(ctx)
    result = run(bootstrap.migrate_all(settings, topics=topics))
    for migration in result.applied:
        click.echo(f"applied migration {migration.version:04d}_{migration.name}")
    if not result.applied:
        click.echo(f"schema {settings.database_schema!r} is up to date")
    _echo_topics(result.topics)


@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("ensure")
@click.pass_context
def topics_ensure(ctx: click.Context) -> None:
    """Create the commands, events and DLQ topics if missing (idempotent)."""
    from accessflow.adapters.kafka.topics import ensure_topics

    _echo_topics(run(ensure_topics(settings_of(ctx))))


@main.command()
@click.option("--burst", is_flag=True, help="Exit once every assigned partition is caught up.")
@click.option("--no-relay", is_flag=True, help="Leave publishing to a separate `accessflow relay`.")
@click.pass_context
def worker(ctx: click.Context, burst: bool, no_relay: bool) -> None:
    """Consume commands, drive requests through their states, publish events."""
    from accessflow.entrypoints.dead_letters import DeadLetterQueueUnwritableError
    from accessflow.entrypoints.serve import run_worker

    settings = settings_of(ctx)
    try:  # a bad connectors file fails here, before anything connects
        connectors = bootstrap.connectors_config(settings)
    except (SettingsError, ConnectorsConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        run(run_worker(settings, connectors, burst=burst, relay=not no_relay))
    except DeadLetterQueueUnwritableError as exc:  # an operator must fix the DLQ first
        raise click.ClickException(str(exc)) from None


@main.command()
@click.pass_context
def relay(ctx: click.Context) -> None:
    """Publish committed events from the outbox (when workers run with --no-relay)."""
    from accessflow.entrypoints.serve import run_relay

    run(run_relay(settings_of(ctx)))


@main.group()
def catalog() -> None:
    """The directory and catalog: users, groups, access packages, policies."""


@catalog.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def catalog_apply(ctx: click.Context, path: Path) -> None:
    """Validate a catalog file (YAML or JSON) and upsert it; every problem is reported."""
    from accessflow.adapters.catalog_file import read_catalog_file
    from accessflow.adapters.postgres.catalog_store import apply_catalog
    from accessflow.adapters.postgres.pool import connect
    from accessflow.domain.errors import CatalogValidationError

    settings = settings_of(ctx)
    try:
        parsed = read_catalog_file(path)
    except CatalogValidationError as exc:
        raise click.ClickException(f"{path}: {exc}") from None

    async def apply() -> Any:
        conn = await connect(settings)
        try:
            return await apply_catalog(conn, parsed)
        finally:
            await conn.close()

    result = run(apply())
    click.echo(
        f"applied {path} as catalog version {result.version}: {result.users} users, "
        f"{result.groups} groups, {result.access_packages} access packages, "
        f"{result.assignment_policies} policies"
    )


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/schemas")
)
def schemas(directory: Path) -> None:
    """Write the JSON Schemas of every wire-contract message into DIRECTORY."""
    from accessflow.service.schemas import write

    for path in write(directory):
        click.echo(f"wrote {path}")


def _echo_topics(states: list[Any]) -> None:
    for state in states:
        verb = "created" if state.created else "exists "
        click.echo(f"topic {verb} {state.name} ({state.partitions} partitions)")


for command in (
    dlq,
    events,
    outbox,
    api,
    token,
    submit,
    requests,
    approvals,
    packages,
    assignments,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
