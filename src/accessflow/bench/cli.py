"""``accessflow-bench``: the command, and the order of the phases."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from pathlib import Path

import click
import orjson

from accessflow.bench.phases import BASELINE, WORKER, Options, Runner
from accessflow.bench.report import Results, document, machine, table
from accessflow.bench.setup import cleanup, new_tag
from accessflow.entrypoints.cli_support import settings_of

# A rate is only clamped to what the run sustains when the throughput phase was long
# enough to say so (a few hundred requests mostly measure start-up).
_MEANINGFUL_SECONDS = 5.0


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option(
    "--requests",
    "requests_",
    type=click.IntRange(1),
    default=50_000,
    show_default=True,
    help="Create commands in the throughput phase (and the baselines).",
)
@click.option(
    "--rate",
    "rates",
    type=click.IntRange(1),
    multiple=True,
    help="Offered rate of a latency phase, requests/s; repeatable [default: 500, 2000].",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    # Two, as a deployment on this 2-core machine would run: one process waits on
    # PostgreSQL and Kafka round trips while the other computes (≈ 2× the requests/s of one).
    default=2,
    show_default=True,
    help="`accessflow worker` processes in the consumer group.",
)
@click.option(
    "--partitions",
    type=click.IntRange(1),
    default=6,
    show_default=True,
    help="Partitions of each phase's topics.",
)
@click.option(
    "--latency-seconds",
    type=click.FloatRange(1),
    default=15.0,
    show_default=True,
    help="How long each latency phase offers its rate.",
)
@click.option(
    "--naive-requests",
    type=click.IntRange(1),
    default=2_000,
    show_default=True,
    help="Requests for the naive worker (it is slow; capped at --requests).",
)
@click.option("--skip-baselines", is_flag=True, help="Only the worker: no raw pipe, no naive.")
@click.option(
    "--backlog",
    type=click.IntRange(0),
    default=0,
    is_flag=False,
    flag_value=200_000,
    help="Also drain a pre-produced backlog of N commands (bare flag: 200,000) "
    "and report the workers' peak memory.",
)
@click.option(
    "--catalog-users",
    type=click.IntRange(0),
    default=100_000,
    show_default=True,
    help="Member users in the throughput phase's catalog (its apply is timed).",
)
@click.option(
    "--worker-log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(1),
    default=60.0,
    show_default=True,
    help="Fail a phase when no request is delivered for this long.",
)
@click.option(
    "--profile",
    type=click.Path(file_okay=False, path_type=Path),
    help="Record a py-spy flame graph of each worker in the throughput phase here.",
)
@click.option(
    "--relay-process",
    is_flag=True,
    help="Run the workers with --no-relay and one `accessflow relay` process beside them.",
)
@click.option(
    "--keep-logs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the processes' logs in this directory (by default removed after a good run).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every figure to this file.",
)
@click.pass_context
def bench(
    ctx: click.Context,
    requests_: int,
    rates: tuple[int, ...],
    workers: int,
    partitions: int,
    latency_seconds: float,
    naive_requests: int,
    skip_baselines: bool,
    backlog: int,
    catalog_users: int,
    worker_log_level: str,
    stall_seconds: float,
    profile: Path | None,
    relay_process: bool,
    keep_logs: Path | None,
    json_path: Path | None,
) -> None:
    """Measure end-to-end throughput and latency against the running stack, beside a naive
    worker and a raw pipe, in fresh topics and a fresh schema (all dropped at the end)."""
    options = Options(
        requests=requests_,
        rates=rates or (500, 2000),
        workers=workers,
        partitions=partitions,
        latency_seconds=latency_seconds,
        naive_requests=min(naive_requests, requests_),
        skip_baselines=skip_baselines,
        backlog=backlog,
        catalog_users=catalog_users,
        worker_log_level=worker_log_level.upper(),
        stall_seconds=stall_seconds,
        profile=profile,
        relay_process=relay_process,
    )
    base = settings_of(ctx)
    if keep_logs is not None:
        keep_logs.mkdir(parents=True, exist_ok=True)
    logs = keep_logs or Path(tempfile.mkdtemp(prefix="accessflow-bench-"))
    runner = Runner(base, options, new_tag(), logs)
    ok = False
    try:
        results = asyncio.run(_run(runner))
        ok = True
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, SIGTERM: cleaned up
        raise click.Abort from None
    except Exception as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc} (process logs in {logs})") from exc
    finally:
        for children in runner.started:  # the last resort: nothing outlives the bench
            children.kill()
        if ok and keep_logs is None:
            shutil.rmtree(logs, ignore_errors=True)
    doc = document(results)
    if json_path is not None:
        json_path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    click.echo(table(doc))
    if json_path is not None:
        _say(f"wrote {json_path}")


async def _run(runner: Runner) -> Results:
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)  # stop the phase, then clean up
    try:
        return await _phases(runner)
    finally:
        for children in runner.started:
            await children.stop()
        _say(f"cleaning up run {runner.tag}: its schemas and topics")
        await cleanup(runner.base, runner.tag)
        loop.remove_signal_handler(signal.SIGTERM)


async def _phases(runner: Runner) -> Results:
    o = runner.options
    results = Results(runner.tag, o, await machine(runner.base))
    plural = "es" if o.workers > 1 else ""
    _say(
        f"run {runner.tag}: {o.requests:,} requests, {o.workers} worker process{plural}"
        f"{' and a relay process' if o.relay_process else ''}, "
        f"{o.partitions} partitions, {results.machine['cores']} cores"
    )
    _say("• throughput: the accessflow worker")
    results.worker, results.catalog = await runner.throughput(
        "worker", WORKER, o.workers, o.requests, max(o.requests, o.catalog_users)
    )
    _say(
        f"  {results.worker.requests_per_s:,.0f} requests/s "
        f"(catalog apply of {results.catalog.users:,} users: {results.catalog.seconds:.2f} s)"
    )
    rates: list[tuple[int, int]] = []
    for rate in o.rates:
        sustained = results.worker.requests_per_s
        offered = rate
        if results.worker.seconds >= _MEANINGFUL_SECONDS and rate > 0.9 * sustained:
            offered = max(50, int(0.9 * sustained) // 50 * 50)
            _say(f"  {rate:,}/s is over what this run sustains: offering {offered:,}/s")
        if offered not in (r for _, r in rates):
            rates.append((rate, offered))
    _say("• latency at fixed offered rates: " + ", ".join(f"{r:,}/s" for _, r in rates))
    results.latency = await runner.latency(rates)
    if not o.skip_baselines:
        _say("• baseline: raw pipe")
        results.raw_pipe, _ = await runner.throughput("raw", [*BASELINE, "raw"], 1, o.requests, 0)
        _say(f"  {results.raw_pipe.requests_per_s:,.0f} requests/s")
        _say(f"• baseline: naive worker ({o.naive_requests:,} requests)")
        results.naive, _ = await runner.throughput(
            "naive", [*BASELINE, "naive"], 1, o.naive_requests, o.naive_requests
        )
        _say(f"  {results.naive.requests_per_s:,.0f} requests/s")
    if o.backlog:
        _say(f"• backlog: {o.backlog:,} commands produced first, then drained")
        results.backlog = await runner.backlog(o.backlog)
        _say(f"  peak worker RSS {results.backlog.peak_rss_mib:.0f} MiB")
    return results
