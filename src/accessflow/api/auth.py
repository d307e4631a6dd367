"""Bearer-token authentication: who is calling, and whether they hold the admin role.

Tokens are JWTs verified with PyJWT against the configured keys: an HS256 secret, RS256/ES256
public keys (PEM files) and/or a JWKS file. ``iss``, ``aud`` and ``exp`` are required and
checked, with ``auth_clock_skew_seconds`` of leeway. The caller's id is ``oid`` (Entra ID's
object id), else ``sub``; roles come from ``roles``. Only the explicit development setting
``auth_dev_unauthenticated`` lets a request without a token in (as ``X-Accessflow-User``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Request

from accessflow.api.errors import unauthenticated
from accessflow.domain.limits import MAX_ID_CHARS
from accessflow.domain.rules import Caller
from accessflow.settings import Settings

DEV_USER_HEADER = "X-Accessflow-User"
DEV_ROLES_HEADER = "X-Accessflow-Roles"


class AuthConfigError(Exception):
    """A configured key file cannot be read or is not a supported public key."""


@dataclass(frozen=True)
class Principal:
    object_id: str
    roles: frozenset[str]
    is_admin: bool

    @property
    def caller(self) -> Caller:
        return Caller(object_id=self.object_id, is_admin=self.is_admin)

    def is_(self, other: str | None) -> bool:
        return other is not None and other.casefold() == self.object_id.casefold()


@dataclass(frozen=True)
class _Key:
    algorithm: str
    key: Any
    kid: str | None = None


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys: list[_Key] = []
        if settings.auth_hs256_secret is not None:
            self._keys.append(_Key("HS256", settings.auth_hs256_secret.get_secret_value()))
        for path in settings.auth_public_key_files:
            self._keys.append(_pem_key(path))
        if settings.auth_jwks_file is not None:
            self._keys.extend(_jwks_keys(settings.auth_jwks_file))

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"the token is malformed: {exc}", invalid=True) from None
        algorithm, kid = header.get("alg"), header.get("kid")
        candidates = [k for k in self._keys if k.algorithm == algorithm]
        if kid is not None and any(k.kid == kid for k in candidates):
            candidates = [k for k in candidates if k.kid == kid]
        if not candidates:
            raise unauthenticated(f"no key accepts tokens signed with {algorithm}", invalid=True)
        for candidate in candidates:
            try:
                claims = self._decode(token, candidate)
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise unauthenticated(f"the token is not valid: {exc}", invalid=True) from None
            return self._principal(claims)
        raise unauthenticated("the token's signature does not verify", invalid=True)

    def _decode(self, token: str, key: _Key) -> dict[str, Any]:
        s = self._settings
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=s.auth_audience,
            issuer=s.auth_issuer,
            leeway=s.auth_clock_skew_seconds,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims.get("oid") or claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise unauthenticated("the token names no caller (oid or sub)", invalid=True)
        _check_caller_id(subject)
        raw = claims.get("roles", [])
        roles = frozenset([raw] if isinstance(raw, str) else [r for r in raw if isinstance(r, str)])
        return Principal(subject, roles, self._settings.auth_admin_role in roles)


def _check_caller_id(object_id: str) -> None:
    """The caller's id goes into commands as ``requestor.objectId``, bounded like any id."""
    if len(object_id) > MAX_ID_CHARS or "\x00" in object_id:
        raise unauthenticated(
            f"the caller id must be at most {MAX_ID_CHARS} characters, without NUL", invalid=True
        )


def _pem_key(path: Path) -> _Key:
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AuthConfigError(f"{path}: not a readable PEM public key ({exc})") from None
    if isinstance(key, rsa.RSAPublicKey):
        return _Key("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return _Key("ES256", key)
    raise AuthConfigError(f"{path}: only RSA and P-256 EC public keys are supported")


def _jwks_keys(path: Path) -> list[_Key]:
    try:
        jwks = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
    except (OSError, jwt.PyJWTError) as exc:
        raise AuthConfigError(f"{path}: not a readable JWKS ({exc})") from None
    keys = [_Key(k.algorithm_name, k.key, k.key_id) for k in jwks.keys]
    return [k for k in keys if k.algorithm in ("RS256", "ES256")]


def authenticate(request: Request) -> Principal:
    """The caller of ``request``: from its bearer token, or (dev setting only) a header."""
    verifier: TokenVerifier = request.app.state.verifier
    settings: Settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("expected 'Authorization: Bearer <token>'", invalid=True)
        return verifier.verify(token.strip())
    if settings.auth_dev_unauthenticated:
        user = request.headers.get(DEV_USER_HEADER, "").strip()
        if user:
            _check_caller_id(user)
            roles = frozenset(
                r.strip() for r in request.headers.get(DEV_ROLES_HEADER, "").split(",")
            )
            return Principal(user, roles - {""}, settings.auth_admin_role in roles)
    raise unauthenticated("a bearer token is required", invalid=False)


MAX_TOKEN_TTL_SECONDS = 24 * 3600
"""A development token outlives a working day at most: it cannot be revoked, only expire."""


def mint_token(
    settings: Settings, user: str, roles: Sequence[str] = (), ttl_seconds: int = 3600
) -> str:
    """A development token signed with ``auth_hs256_secret`` (``accessflow token``), valid
    for 1 s to :data:`MAX_TOKEN_TTL_SECONDS`."""
    if not 0 < ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
        raise ValueError(f"a token lives 1 to {MAX_TOKEN_TTL_SECONDS} seconds, not {ttl_seconds}")
    if settings.auth_hs256_secret is None:
        raise AuthConfigError("ACCESSFLOW_AUTH_HS256_SECRET is not set; no token can be minted")
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": user,
        "oid": user,
        "roles": list(roles),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, settings.auth_hs256_secret.get_secret_value(), algorithm="HS256")
