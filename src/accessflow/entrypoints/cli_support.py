"""What every ``accessflow`` subcommand module shares: the settings, read once per
invocation, and running one command's coroutine.

The main group (``entrypoints/cli.py``) and the modules that add commands to it
(``cli_ops``, ``cli_parked``, ``api/cli.py``) import this module, and it imports none of
them, so the command line has no import cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from accessflow import bootstrap
from accessflow.adapters.kafka.limits import TopicLimitError
from accessflow.settings import Settings, SettingsError

T = TypeVar("T")


def settings_of(ctx: click.Context) -> Settings:
    """The invocation's settings: read from the environment on first use, then kept on the
    click context; a bad value ends the command with the variable named."""
    settings = ctx.find_object(Settings)
    if settings is None:
        try:
            settings = bootstrap.start()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        ctx.obj = settings
    return settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except TopicLimitError as exc:  # a start-up refusal, said plainly (docs/security.md)
        raise click.ClickException(str(exc)) from None
