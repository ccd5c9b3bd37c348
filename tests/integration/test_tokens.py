"""Hostile tokens: forged, expired, alg=none, wrong type, other secret."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from app.runtime import Services
from tests.conftest import TEST_SECRET
from tests.support import factories
from tests.support.graphql import GraphQLClient

PROFILE = "query { accountProfileGet { profile { id } } }"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_expired_access_token_is_refused_with_token_expired(services: Services, gql: GraphQLClient) -> None:
    acct = await factories.account(services, "ann")
    claims = claims_of(acct.access_token) | {"exp": int(time.time()) - 10}
    expired = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    assert (await gql.execute(PROFILE, token=expired)).error_code == "TOKEN_EXPIRED"


@pytest.mark.parametrize("kind", ["alg-none", "other-secret", "tampered", "garbage", "refresh-as-access", "wrong-sub"])
async def test_forged_tokens_are_refused(services: Services, gql: GraphQLClient, kind: str) -> None:
    acct = await factories.account(services, "ann")
    claims = claims_of(acct.access_token)
    token = {
        "alg-none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "other-secret": jwt.encode(claims, "another-secret-" + "z" * 40, algorithm="HS256"),
        "tampered": acct.access_token[:-4] + ("AAAA" if not acct.access_token.endswith("AAAA") else "BBBB"),
        "garbage": "not.a.jwt",
        "refresh-as-access": acct.refresh_token,
        "wrong-sub": jwt.encode(claims | {"sub": str(acct.user_id + 1000)}, TEST_SECRET, algorithm="HS256"),
    }[kind]
    result = await gql.execute(PROFILE, token=token)
    assert result.error_code == "UNAUTHENTICATED"
    assert result.body["data"] is None
    # the real token keeps working
    assert (await gql.execute(PROFILE, token=acct.access_token)).error_code is None


async def test_malformed_authorization_header_is_unauthenticated(services: Services, gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json={"query": PROFILE}, headers={"authorization": "Basic abc"})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
