"""PostgreSQL over TLS with ``sslmode=verify-full``: a PostgreSQL of the test's own, started by
the local stack script with ``ACCESSFLOW_STACK_PG_TLS=1`` (``ssl=on``, a server certificate
from the stack's test CA), on a free port in a temporary folder; stopped and deleted after.
The shared database is never restarted for this."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from accessflow.adapters.postgres import pool
from accessflow.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack"
#: Starts a PostgreSQL of its own.
pytestmark = pytest.mark.integration


def _stack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tls_database() -> Iterator[tuple[str, Path]]:
    """The verify-full URL of a TLS-only-started PostgreSQL, and the stack folder."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Under /tmp and world-readable: as root the server runs as 'postgres', which must reach it.
    folder = Path(tempfile.mkdtemp(prefix="accessflow-pg-tls-", dir="/tmp"))
    folder.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "ACCESSFLOW_STACK_DIR": str(folder),
        "ACCESSFLOW_STACK_PG_PORT": str(port),
        "ACCESSFLOW_STACK_PG_TLS": "1",
    }
    try:
        started = _stack("up", "postgres", env=env)
        assert started.returncode == 0, started.stderr
        printed = _stack("env", env=env).stdout
        [url] = [
            shlex.split(line)[1].split("=", 1)[1]
            for line in printed.splitlines()
            if "ACCESSFLOW_DATABASE_URL=" in line
        ]
        yield url, folder
    finally:
        _stack("down", "postgres", "--wipe", env=env)
        shutil.rmtree(folder, ignore_errors=True)


async def test_verify_full_connects_over_tls(tls_database: tuple[str, Path]) -> None:
    """The stack prints a verify-full URL; accessflow's own connection (and pool) through it
    is encrypted, as the server itself reports."""
    url, folder = tls_database
    assert url.endswith(f"?sslmode=verify-full&sslrootcert={folder}/tls/ca.pem")
    settings = load_settings(database_url=url)
    conn = await pool.connect(settings)
    try:
        row = await conn.fetchrow("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()
    assert row is not None
    assert row["ssl"] is True
    db = await pool.create_pool(settings)
    try:
        assert await db.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await db.close()


def test_a_certificate_from_another_ca_is_refused_in_one_line(
    tls_database: tuple[str, Path], tmp_path: Path
) -> None:
    """sslrootcert naming a CA that did not sign the server's certificate: `accessflow
    migrate` exits 1 with the reason and the setting to check, not a traceback."""
    url, _ = tls_database
    other = tmp_path / "other-ca"
    made = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "local" / "tls.py"), str(other)],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    wrong = url.rsplit("sslrootcert=", 1)[0] + f"sslrootcert={other}/ca.pem"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSFLOW_")}
    result = subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", "migrate", "--no-topics"],
        env={**env, "ACCESSFLOW_DATABASE_URL": wrong},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: PostgreSQL: TLS certificate verification failed (unable to get local issuer "
        "certificate); check sslrootcert= in ACCESSFLOW_DATABASE_URL"
    )
