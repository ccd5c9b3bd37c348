"""Big inputs before auth: an oversized list is refused by its length alone, and a bulky
input is read only once its caller is authenticated, on both doors."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from app.context import RequestContext
from app.errors import AppError
from app.ops import MAX_INPUT_LIST_ITEMS
from app.runtime import Services
from schema.build import Api
from tests.support import factories

READ_BATCH = """mutation($i: MessageStatusReadBatchInput!) {
  messageStatusReadBatch(input: $i) { __typename } }"""


@pytest.fixture
async def http(client_asgi: Any) -> Any:
    transport = httpx.ASGITransport(app=client_asgi, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def graphql(http: httpx.AsyncClient, variables: dict[str, Any], token: str | None = None) -> tuple[str, float]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": READ_BATCH, "variables": variables}).encode()
    started = time.process_time()  # CPU time (the server runs in this process): load-proof
    response = await http.post("/graphql", content=body, headers=headers)
    elapsed = time.process_time() - started
    return response.json()["errors"][0]["extensions"]["code"], elapsed


async def native(api: Api, services: Services, args: dict[str, Any], token: str | None = None) -> tuple[str, float]:
    ctx = RequestContext(services=services, transport="test", token=token, ip="127.0.0.1")
    started = time.process_time()
    with pytest.raises(AppError) as caught:
        await api.call("message/status/read_batch", ctx, args)
    return caught.value.code.value, time.process_time() - started


def items(count: int, *, valid: bool = True) -> list[dict[str, Any]]:
    if valid:
        return [{"channelId": str(i + 1), "pts": i + 1} for i in range(count)]
    return [{"channelId": {"not": "an id"}, "pts": "x" * 20} for _ in range(count)]


async def test_an_anonymous_oversized_batch_is_refused_by_its_length(
    api: Api, services: Services, http: httpx.AsyncClient
) -> None:
    # 26k items, ~870 KB: refused before a single item is read (1.1 s of CPU in coercion before).
    args = {"items": items(26_000)}
    code, elapsed = await graphql(http, {"i": args})
    assert code == "BAD_USER_INPUT" and elapsed < 0.5, (code, elapsed)
    code, elapsed = await native(api, services, args)
    assert code == "BAD_USER_INPUT" and elapsed < 0.1, (code, elapsed)


async def test_a_bulky_input_is_read_only_after_authentication(
    api: Api, services: Services, http: httpx.AsyncClient
) -> None:
    # Wrong types everywhere: an input that was read would be BAD_USER_INPUT. Anonymous
    # callers get UNAUTHENTICATED, so nothing was read before the token was checked.
    bulky = {"items": items(MAX_INPUT_LIST_ITEMS, valid=False)}
    assert (await graphql(http, {"i": bulky}))[0] == "UNAUTHENTICATED"
    assert (await graphql(http, {"i": bulky}, token="forged"))[0] == "UNAUTHENTICATED"
    assert (await native(api, services, bulky))[0] == "UNAUTHENTICATED"
    # An authenticated caller gets its input read, and the typed error for what is in it.
    ann = await factories.account(services, "ann")
    assert (await graphql(http, {"i": bulky}, ann.access_token))[0] == "BAD_USER_INPUT"
    assert (await native(api, services, bulky, ann.access_token))[0] == "BAD_USER_INPUT"
    # Small inputs keep the usual order (the input is checked first, then the caller).
    small = {"items": items(3, valid=False)}
    assert (await graphql(http, {"i": small}))[0] == "BAD_USER_INPUT"
    assert (await native(api, services, small))[0] == "BAD_USER_INPUT"


async def test_a_full_batch_still_works(api: Api, services: Services, http: httpx.AsyncClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    await factories.send_text(services, bob, channel, "hi")
    args = {"items": [{"channelId": str(channel), "pts": 1}] * MAX_INPUT_LIST_ITEMS}
    ctx = RequestContext(services=services, transport="test", token=ann.access_token, ip="127.0.0.1")
    await api.call("message/status/read_batch", ctx, args)


async def test_an_anonymous_oversized_sync_submit_is_refused_by_its_length(api: Api, services: Services) -> None:
    item = {"messageSend": {"channelId": "1", "clientMsgId": "c", "content": {"text": {"text": "x"}}}}
    code, elapsed = await native_call(api, services, "sync/submit", {"items": [item] * 26_000})
    assert code == "BAD_USER_INPUT" and elapsed < 0.1, (code, elapsed)
    code, _ = await native_call(api, services, "sync/submit", {"items": [item] * 300})
    assert code == "UNAUTHENTICATED"  # bulky: the caller first


async def native_call(api: Api, services: Services, route: str, args: dict[str, Any]) -> tuple[str, float]:
    ctx = RequestContext(services=services, transport="test", token=None, ip="127.0.0.1")
    started = time.process_time()
    with pytest.raises(AppError) as caught:
        await api.call(route, ctx, args)
    return caught.value.code.value, time.process_time() - started
