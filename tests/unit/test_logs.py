"""accessflow.logs: one pipeline for structlog and stdlib loggers, JSON or console."""

from __future__ import annotations

import io
import json
import logging
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from pydantic import SecretStr
from structlog.contextvars import bound_contextvars

from accessflow import logs as logs_module
from accessflow.logs import NOISY_LOGGERS, configure_logging, get_logger
from accessflow.settings import LogFormat


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave the root logger, noisy loggers and structlog as they were for other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)
    logging.captureWarnings(False)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_json_line_carries_bound_context_level_logger_and_utc_timestamp() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    with bound_contextvars(request_id="r-1", partition=3):
        get_logger("accessflow.worker").info("command.handled", offset=7)

    [line] = _json_lines(stream)
    assert line["event"] == "command.handled"
    assert line["request_id"] == "r-1"
    assert line["partition"] == 3
    assert line["offset"] == 7
    assert line["level"] == "info"
    assert line["logger"] == "accessflow.worker"
    stamp = datetime.fromisoformat(line["timestamp"])
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_bound_context_is_gone_after_the_block() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)
    log = get_logger("accessflow.test")

    with bound_contextvars(request_id="r-1"):
        log.info("inside")
    log.info("outside")

    inside, outside = _json_lines(stream)
    assert inside["request_id"] == "r-1"
    assert "request_id" not in outside


def test_nested_bound_restores_the_outer_value() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)
    log = get_logger("accessflow.test")

    with bound_contextvars(request_id="outer"):
        with bound_contextvars(request_id="inner"):
            log.info("a")
        log.info("b")

    assert [line["request_id"] for line in _json_lines(stream)] == ["inner", "outer"]


def test_stdlib_logger_record_comes_out_as_structlog_json_with_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    with bound_contextvars(request_id="r-2"):
        logging.getLogger("asyncpg.pool").warning("pool %s closed", "main")

    [line] = _json_lines(stream)
    assert line["event"] == "pool main closed"
    assert line["logger"] == "asyncpg.pool"
    assert line["level"] == "warning"
    assert line["request_id"] == "r-2"
    assert "timestamp" in line


def test_stdlib_extra_fields_become_keys_and_uvicorn_color_message_is_dropped() -> None:
    # As uvicorn's own config leaves it: a handler, no propagation, a level of its own.
    logging.getLogger("uvicorn").propagate = False
    logging.getLogger("uvicorn").addHandler(logging.NullHandler())
    logging.getLogger("uvicorn.error").setLevel("WARNING")
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    logging.getLogger("uvicorn.error").info("started", extra={"port": 8000, "color_message": "x"})

    [line] = _json_lines(stream)
    assert line["port"] == 8000
    assert "color_message" not in line


def test_aiokafka_info_is_suppressed_but_warnings_pass_at_info_level() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    logging.getLogger("aiokafka.consumer.group_coordinator").info("rebalance chatter")
    logging.getLogger("aiokafka.conn").warning("connection lost")

    assert [line["event"] for line in _json_lines(stream)] == ["connection lost"]


def test_aiokafka_debug_comes_through_at_debug_level() -> None:
    stream = io.StringIO()
    configure_logging("debug", LogFormat.JSON, stream)

    logging.getLogger("aiokafka.conn").debug("sending request")

    assert [line["event"] for line in _json_lines(stream)] == ["sending request"]


def test_lines_below_the_configured_level_are_dropped() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", LogFormat.JSON, stream)
    log = get_logger("accessflow.test")

    log.info("quiet")
    log.warning("loud")

    assert [line["event"] for line in _json_lines(stream)] == ["loud"]


def test_console_format_renders_readable_non_json_text() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.CONSOLE, stream)

    get_logger("accessflow.test").info("command.handled", request_id="r-3")

    text = stream.getvalue()
    assert "command.handled" in text
    assert "request_id=r-3" in text
    assert "\x1b[" not in text  # no colour codes when the stream is not a terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.parametrize(
    ("stream", "expect_json"),
    [(io.StringIO(), True), (_Terminal(), False)],
    ids=["pipe-gets-json", "terminal-gets-console"],
)
def test_auto_format_chooses_by_whether_the_stream_is_a_terminal(
    stream: io.StringIO, expect_json: bool
) -> None:
    configure_logging("INFO", LogFormat.AUTO, stream)

    get_logger("accessflow.test").info("hello")

    first = stream.getvalue().splitlines()[0]
    assert first.startswith("{") is expect_json


def test_format_may_be_given_as_its_string_value() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    get_logger("accessflow.test").info("hello")

    assert _json_lines(stream)[0]["event"] == "hello"


def test_configuring_twice_writes_each_line_once_and_only_to_the_new_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", LogFormat.JSON, first)
    configure_logging("INFO", LogFormat.JSON, second)

    get_logger("accessflow.test").info("once")
    logging.getLogger("asyncpg").warning("also once")

    assert first.getvalue() == ""
    assert [line["event"] for line in _json_lines(second)] == ["once", "also once"]


def test_module_level_logger_created_before_configuration_follows_it() -> None:
    """Loggers made at import time (``log = get_logger(__name__)``) use the later config."""
    log = get_logger("accessflow.early")
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    log.info("late")

    assert _json_lines(stream)[0]["logger"] == "accessflow.early"


def test_exception_traceback_is_one_string_field_of_the_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("accessflow.test").exception("command.failed")

    [line] = _json_lines(stream)
    assert line["level"] == "error"
    assert "ValueError: boom" in line["exception"]


def test_stdlib_exception_traceback_is_in_the_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    try:
        raise KeyError("gone")
    except KeyError:
        logging.getLogger("aiokafka").exception("fetch failed")

    [line] = _json_lines(stream)
    assert "KeyError" in line["exception"]


def test_values_json_cannot_encode_natively_are_rendered_not_fatal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)
    ident = uuid.UUID(int=1)

    get_logger("accessflow.test").info("odd", ident=ident, when=datetime(2025, 1, 2, tzinfo=UTC))

    [line] = _json_lines(stream)
    assert line["ident"] == str(ident)
    assert line["when"].startswith("2025-01-02")


def test_secret_values_are_masked_in_log_lines() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    get_logger("accessflow.test").info("connecting", password=SecretStr("hunter2"))

    assert "hunter2" not in stream.getvalue()


def test_python_warnings_are_routed_through_the_same_pipeline() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old api", DeprecationWarning, stacklevel=1)

    [line] = _json_lines(stream)
    assert line["logger"] == "py.warnings"
    assert "old api" in line["event"]


def _chain_and_fused_lines(emit: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same call rendered by structlog's own processor chain and by our one-call JSON
    processor; timestamps set aside (they are compared for form and closeness)."""
    rendered = []
    for fused in (False, True):
        stream = io.StringIO()
        configure_logging("DEBUG", LogFormat.JSON, stream)
        if not fused:
            structlog.configure(
                processors=logs_module._native_chain(logs_module._renderers(True, False))
            )
        with bound_contextvars(request_id="r-9", partition=2):
            emit(get_logger("accessflow.pin"))
        [line] = _json_lines(stream)
        rendered.append(line)
    chain, ours = rendered
    for line in (chain, ours):
        stamp = line.pop("timestamp")
        assert stamp.endswith("Z")
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert abs((datetime.now(UTC) - moment).total_seconds()) < 5
    return chain, ours


@pytest.mark.parametrize(
    "emit",
    [
        lambda log: log.info("command.handled", offset=7, tags=["a"], reason=None),
        lambda log: log.warning("relay.drain_incomplete", request_id="explicit-wins"),
        lambda log: log.debug("x", when=datetime(2026, 1, 2, tzinfo=UTC), id=uuid.UUID(int=5)),
        lambda log: log.info("with.stack", stack_info=True),
    ],
    ids=["info", "warning-overrides-context", "non-json-values", "stack-info"],
)
def test_the_fused_json_processor_writes_what_the_chain_writes(emit: Any) -> None:
    chain, ours = _chain_and_fused_lines(emit)
    assert ours == chain
    assert list(ours) == list(chain)  # the same keys in the same order, too


def test_the_fused_json_processor_formats_exceptions_like_the_chain() -> None:
    def emit(log: Any) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("batch.failed")

    chain, ours = _chain_and_fused_lines(emit)
    assert ours["level"] == chain["level"] == "error"
    assert "ValueError: boom" in ours["exception"]
    # Tracebacks name their own line numbers: equal once those are set aside.
    assert ours.keys() == chain.keys()


def test_utc_timestamp_matches_datetime_isoformat() -> None:
    before = datetime.now(UTC)
    stamp = logs_module._utc_timestamp()
    after = datetime.now(UTC)
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before <= moment <= after
    assert len(stamp) in (len("2026-01-02T03:04:05Z"), len("2026-01-02T03:04:05.123456Z"))
