"""What the API refuses to start with once it listens beyond this machine.

A short HS256 secret can be brute-forced offline from any one token, the Makefile's
development secret is public, and development mode accepts anyone as anyone: each is fine
for a process only this machine can reach, and each is refused on any other address. Every
way of starting the API (``accessflow api``, ``make run``, an embedding ``create_app``) goes
through :func:`check_exposure`.
"""

from __future__ import annotations

import ipaddress

from accessflow.logs import get_logger
from accessflow.settings import Settings, SettingsError

log = get_logger("accessflow.api")

MIN_HS256_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HS256 key at least as long as the hash output (256 bits)."""

DEVELOPMENT_SECRET = "accessflow-development-secret-not-for-production"
"""The Makefile's ``DEV_SECRET`` (``make run``): published, so never a real secret."""

_SECRET_HINT = (
    "use at least 32 random bytes, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``: reachable from this machine only."""
    bare = host.strip().removeprefix("[").removesuffix("]")
    if bare.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything; only the literal forms count


def exposure_problems(settings: Settings) -> list[str]:
    """Each setting the API must not run with on ``settings.api_host``; none on loopback."""
    if is_loopback(settings.api_host):
        return []
    where = f"the API would listen on {settings.api_host!r} (ACCESSFLOW_API_HOST), not loopback"
    problems = []
    secret = settings.auth_hs256_secret
    if secret is not None:
        value = secret.get_secret_value()
        if value == DEVELOPMENT_SECRET:
            problems.append(
                "ACCESSFLOW_AUTH_HS256_SECRET is the published development secret of the "
                f"Makefile, so anyone can sign tokens, and {where}; {_SECRET_HINT}"
            )
        elif len(value.encode()) < MIN_HS256_SECRET_BYTES:
            problems.append(
                f"ACCESSFLOW_AUTH_HS256_SECRET is shorter than {MIN_HS256_SECRET_BYTES} bytes, "
                f"so its tokens can be brute-forced, and {where}; {_SECRET_HINT}"
            )
    if settings.auth_dev_unauthenticated:
        problems.append(
            "ACCESSFLOW_AUTH_DEV_UNAUTHENTICATED accepts requests without a token (anyone "
            f"may claim to be anyone), and {where}; it is for development on loopback only"
        )
    return problems


def check_exposure(settings: Settings) -> None:
    """Raise :class:`SettingsError` naming each problem :func:`exposure_problems` finds."""
    problems = exposure_problems(settings)
    if problems:
        raise SettingsError("the API refuses to start:\n  " + "\n  ".join(problems))


def warn_if_unauthenticated(settings: Settings) -> None:
    """One loud line at start when development mode (no tokens) is on."""
    if settings.auth_dev_unauthenticated:
        log.warning(
            "auth.unauthenticated_mode",
            host=settings.api_host,
            detail="ACCESSFLOW_AUTH_DEV_UNAUTHENTICATED: requests without a token are "
            "accepted as the user named in X-Accessflow-User; never use this in production",
        )
