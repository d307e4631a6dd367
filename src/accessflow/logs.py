"""structlog, configured once: JSON lines off a terminal, readable console output on one.

Records from stdlib loggers (aiokafka, asyncpg, uvicorn) go through the same processors via
``ProcessorFormatter``, so one process writes one format. Context bound with :func:`bound`
(contextvars) appears on every line logged inside the block, including the libraries'.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import Processor

from accessflow.settings import LogFormat

# Chatty at INFO; their warnings and errors still come through.
_NOISY = ("aiokafka", "kafka", "asyncio", "uvicorn.access")
_HANDLER_NAME = "accessflow"


def _json_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def configure_logging(
    level: str = "INFO", fmt: LogFormat = LogFormat.AUTO, stream: TextIO | None = None
) -> None:
    """Configure structlog and the stdlib root logger. Safe to call again (tests do)."""
    out = stream if stream is not None else sys.stderr
    as_json = fmt is LogFormat.JSON or (fmt is LogFormat.AUTO and not out.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json_dumps)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared = _shared_processors()
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # Replace our handler rather than stack a second one on reconfiguration.
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel("DEBUG" if level.upper() == "DEBUG" else "WARNING")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """Bind ``context`` to every log line emitted inside the block (per task, via contextvars)."""
    with structlog.contextvars.bound_contextvars(**context):
        yield
