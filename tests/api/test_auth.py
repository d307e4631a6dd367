"""Authentication (bearer JWTs: HS256, RS256 PEM, ES256 JWKS; iss/aud/exp, skew) and
authorization (admin types and actions, other people's requests, cancel, approvals)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from api_support import (
    ADMIN_ROLE,
    FALCON,
    KAYO,
    MEGAN,
    NESTOR,
    REQUESTS,
    SALES,
    SALES_POLICY,
    SECRET,
    Api,
    sales_body,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER, AUDIENCE = "urn:accessflow:dev", "urn:accessflow:api"


def claims(user: str = MEGAN, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "iat": now, "exp": now + 300, **extra}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def list_as(api: Api, headers: dict[str, str]) -> Any:
    return await api.client.get(REQUESTS, headers=headers)


def assert_401(response: Any, *, invalid: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert ("invalid_token" in challenge) is invalid


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    assert_401(await api.client.get(REQUESTS), invalid=False)
    assert_401(await api.client.post(REQUESTS, json=sales_body()), invalid=False)


INVALID_TOKENS = {
    "wrong-key": jwt.encode(claims(), "another-secret-that-is-long-enough!!", algorithm="HS256"),
    "wrong-iss": jwt.encode(claims(iss="urn:someone:else"), SECRET, algorithm="HS256"),
    "wrong-aud": jwt.encode(claims(aud="urn:another:api"), SECRET, algorithm="HS256"),
    "expired": jwt.encode(claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
    "no-exp": jwt.encode(
        {k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256"
    ),
    "no-subject": jwt.encode(claims(sub=None), SECRET, algorithm="HS256"),
    "hs512": jwt.encode(claims(), SECRET * 2, algorithm="HS512"),
    "junk": "not.a.jwt",
}


async def test_an_invalid_token_is_401(api: Api) -> None:
    """Wrong key, issuer or audience, expired beyond the skew, no exp, no subject, an
    algorithm nobody configured, or not a JWT at all: 401 with an invalid_token challenge."""
    for name, token in INVALID_TOKENS.items():
        try:
            assert_401(await list_as(api, bearer(token)))
        except AssertionError as exc:
            raise AssertionError(name) from exc


async def test_a_basic_authorization_header_is_401(api: Api) -> None:
    assert_401(await list_as(api, {"Authorization": "Basic bWVnYW46cHc="}))


async def test_expiry_within_the_clock_skew_is_accepted(api: Api) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 30), SECRET, algorithm="HS256")
    assert (await list_as(api, bearer(token))).status_code == 200


async def test_the_caller_is_oid_before_sub(api: Api) -> None:
    token = jwt.encode(claims(sub="someone", oid=MEGAN), SECRET, algorithm="HS256")
    response = await api.client.post(REQUESTS, json=sales_body(), headers=bearer(token))
    assert response.status_code == 201
    [command] = await api.commands()
    assert command["data"]["requestor"]["objectId"] == MEGAN


async def test_rs256_public_key_files_verify_tokens(make_api: Any, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    async with make_api(auth_hs256_secret=None, auth_public_key_files=[pem]) as api:
        good = jwt.encode(claims(), key, algorithm="RS256")
        assert (await list_as(api, bearer(good))).status_code == 200
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert_401(await list_as(api, bearer(jwt.encode(claims(), other, algorithm="RS256"))))
        # An HS256 token must not pass once no HS256 secret is configured.
        assert_401(await list_as(api, bearer(jwt.encode(claims(), SECRET, algorithm="HS256"))))


async def test_es256_keys_from_a_jwks_file_verify_tokens(make_api: Any, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    async with make_api(auth_hs256_secret=None, auth_jwks_file=jwks) as api:
        good = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
        assert (await list_as(api, bearer(good))).status_code == 200
        forged = ec.generate_private_key(ec.SECP256R1())
        bad = jwt.encode(claims(), forged, algorithm="ES256", headers={"kid": "k1"})
        assert_401(await list_as(api, bearer(bad)))


async def test_admin_request_types_need_the_admin_role(api: Api) -> None:
    body = {
        "requestType": "adminAdd",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": KAYO,
        },
    }
    refused = await api.post(REQUESTS, body, NESTOR)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"][0]["code"] == "RequestorNotAllowed"
    assert (await api.post(REQUESTS, body, NESTOR, admin=True)).status_code == 201
    [command] = await api.commands()
    assert command["data"]["requestor"] == {"objectId": NESTOR, "isAdmin": True}


async def test_self_service_follows_the_policy(api: Api) -> None:
    """Megan may ask for Sales for herself, not for Kayo (she is not Kayo's manager)."""
    assert (await api.post(REQUESTS, sales_body(MEGAN), MEGAN)).status_code == 201
    refused = await api.post(REQUESTS, sales_body(KAYO), MEGAN)
    assert refused.status_code == 403


async def insert_request(api: Api, requestor: str, target: str, state: str = "submitted") -> str:
    request_id = uuid.uuid4()
    document = {"id": str(request_id), "requestType": "userAdd", "state": state, "status": "X"}
    await api.sql(
        "INSERT INTO assignment_requests (id, request_type, state, status, target_id, "
        "access_package_id, requestor_id, sequence, created_at, document) VALUES "
        "($1, 'userAdd', $2, 'X', $3, $4, $5, 1, now(), $6)",
        request_id,
        state,
        target,
        FALCON,
        requestor,
        document,
    )
    return str(request_id)


async def test_reading_other_peoples_requests_needs_the_admin_role(api: Api) -> None:
    """Megan reads her own request, not Kayo's; an admin reads both; lists are scoped."""
    mine = await insert_request(api, MEGAN, MEGAN)
    theirs = await insert_request(api, KAYO, KAYO)
    assert (await api.get(f"{REQUESTS}/{mine}", MEGAN)).status_code == 200
    forbidden = await api.get(f"{REQUESTS}/{theirs}", MEGAN)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "accessDenied"
    assert (await api.get(f"{REQUESTS}/{theirs}", NESTOR, admin=True)).status_code == 200
    listed = await api.get(REQUESTS, MEGAN)
    assert [r["id"] for r in listed.json()["value"]] == [mine]
    everything = await api.get(REQUESTS, NESTOR, admin=True)
    assert {r["id"] for r in everything.json()["value"]} == {mine, theirs}


async def test_cancel_only_by_the_requestor_target_or_an_admin(api: Api) -> None:
    request_id = await insert_request(api, MEGAN, MEGAN)
    cancel = f"{REQUESTS}/{request_id}/cancel"
    assert (await api.post(cancel, None, KAYO)).status_code == 403
    assert (await api.post(cancel, None, MEGAN)).status_code == 200
    assert (await api.post(cancel, None, NESTOR, admin=True)).status_code == 200
    commands = await api.commands()
    assert [c["data"]["requestor"]["objectId"] for c in commands] == [MEGAN, NESTOR]


async def test_dev_mode_takes_the_user_from_a_header_and_is_off_by_default(
    make_api: Any,
) -> None:
    headers = {"X-Accessflow-User": MEGAN}
    async with make_api() as api:
        assert_401(
            await api.client.post(REQUESTS, json=sales_body(), headers=headers), invalid=False
        )
    async with make_api(auth_dev_unauthenticated=True) as dev:
        created = await dev.client.post(REQUESTS, json=sales_body(), headers=headers)
        assert created.status_code == 201
        assert_401(await dev.client.post(REQUESTS, json=sales_body()), invalid=False)
        admin = {**headers, "X-Accessflow-Roles": ADMIN_ROLE}
        assert (await dev.client.get(REQUESTS, headers=admin)).status_code == 200


def test_the_token_command_mints_a_verifiable_dev_token(subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "ACCESSFLOW_AUTH_HS256_SECRET": SECRET}
    run = [sys.executable, "-m", "accessflow.entrypoints.cli", "token", "--user", MEGAN]
    result = subprocess.run(
        [*run, "--admin", "--ttl", "60"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    decoded = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (decoded["oid"], decoded["iss"]) == (MEGAN, ISSUER)
    assert decoded["roles"] == [ADMIN_ROLE]
    assert decoded["exp"] - decoded["iat"] == 60
    from click.testing import CliRunner

    from accessflow.entrypoints.cli import main

    unset = CliRunner(env={"ACCESSFLOW_AUTH_HS256_SECRET": None}).invoke(
        main, ["token", "--user", MEGAN]
    )
    assert unset.exit_code != 0
    assert "ACCESSFLOW_AUTH_HS256_SECRET" in unset.output
