"""GraphQL subscriptions over WebSocket against real server processes, with real clients
(`websockets`, and `gql` once): graphql-transport-ws with every close code it defines,
the legacy graphql-ws protocol with keep-alives, and the `events` stream end to end."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.factories import PASSWORD
from tests.support.server import ServerProcess

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
KA_INTERVAL_S = 0.2
# Many logins and registrations from 127.0.0.1 in one module: lift the per-IP limits.
RELAXED_ENV = {
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_IP": "100000/minute",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_ACCOUNT": "100000/minute",
    "PRIVCHAT_SECURITY__REGISTER_PER_IP": "100000/hour",
    "PRIVCHAT_HTTP__WS_KEEP_ALIVE_SECONDS": str(KA_INTERVAL_S),
}
WAIT_S = 10.0  # upper bound for anything the server should do promptly
EVENTS = """subscription { events { __typename ... on SessionRevokedEvent { deviceIds reason } } }"""
REGISTER = """mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) {
  user { id } } }"""
LOGIN = """mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input: {username: $u, password: $p,
  deviceId: $d, deviceName: $d, platform: "android"}) { accessToken } }"""
KICK = "mutation($d: String!) { deviceKick(input: {deviceId: $d}) { kicked } }"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def ws_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_env=RELAXED_ENV)


# --- helpers ------------------------------------------------------------------------------


async def graphql(server: ServerProcess, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=WAIT_S) as http:
        response = await http.post(server.graphql_url, json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def new_user(server: ServerProcess) -> str:
    username = f"ws{next(_names)}x{int(time.time() * 1000) % 100000}"
    await graphql(server, REGISTER, {"u": username, "p": PASSWORD})
    return username


async def login(server: ServerProcess, username: str, device: str) -> str:
    data = await graphql(server, LOGIN, {"u": username, "p": PASSWORD, "d": device})
    return str(data["accountAuthLogin"]["accessToken"])


async def kick(server: ServerProcess, token: str, device: str) -> None:
    data = await graphql(server, KICK, {"d": device}, token)
    assert data["deviceKick"]["kicked"], data


@asynccontextmanager
async def socket(server: ServerProcess, *protocols: str) -> AsyncIterator[ClientConnection]:
    offered = [Subprotocol(p) for p in protocols] or None  # None: no Sec-WebSocket-Protocol header at all
    async with connect(server.ws_url, subprotocols=offered, open_timeout=WAIT_S) as ws:
        yield ws


async def send(ws: ClientConnection, message: Any) -> None:
    await ws.send(message if isinstance(message, str | bytes) else json.dumps(message))


async def receive(ws: ClientConnection, within: float = WAIT_S) -> dict[str, Any]:
    """The next message, keep-alives (`ka`) skipped."""
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await ws.recv())
            if message.get("type") != "ka":
                return dict(message)


async def close_code(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes the socket; its close code and reason."""
    async with asyncio.timeout(WAIT_S):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, None)


async def init(ws: ClientConnection, token: str | None = None) -> dict[str, Any]:
    await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
    return await receive(ws)


# --- graphql-transport-ws: the close codes ------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        b"\x00\x01binary",
        "[]",
        '"connection_init"',
        "42",
        "null",
        {},
        {"type": 5},
        {"type": "nope"},
        {"type": "connection_init", "payload": [1]},
        {"type": "connection_init", "payload": "token"},
    ],
)
async def test_invalid_messages_close_with_4400(ws_server: ServerProcess, message: Any) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        await send(ws, message)
        code, _ = await close_code(ws)
    assert code == 4400


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe", "id": "1"},
        {"type": "subscribe", "payload": {"query": EVENTS}},
        {"type": "subscribe", "id": "", "payload": {"query": EVENTS}},
        {"type": "subscribe", "id": 1, "payload": {"query": EVENTS}},
        {"type": "subscribe", "id": "1", "payload": "subscription { events { __typename } }"},
        {"type": "subscribe", "id": "1", "payload": {"query": 5}},
        {"type": "subscribe", "id": "1", "payload": {"query": EVENTS, "variables": [1]}},
        {"type": "subscribe", "id": "1", "payload": {"query": EVENTS, "operationName": 1}},
        {"type": "subscribe", "id": "1", "payload": {"query": "subscription {"}},  # syntax error
        {"type": "complete"},
        {"type": "ping", "payload": "x"},
    ],
)
async def test_invalid_payloads_after_the_ack_close_with_4400(ws_server: ServerProcess, message: Any) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        assert (await init(ws))["type"] == "connection_ack"
        await send(ws, message)
        code, _ = await close_code(ws)
    assert code == 4400


async def test_subscribe_before_the_ack_closes_with_4401(ws_server: ServerProcess) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        await send(ws, {"type": "subscribe", "id": "1", "payload": {"query": EVENTS}})
        assert await close_code(ws) == (4401, "Unauthorized")


def _forged(server: ServerProcess, token: str, *, secret: str | None = None, expired: bool = False) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    if expired:
        claims["iat"], claims["exp"] = int(time.time()) - 3600, int(time.time()) - 60
    key = secret if secret is not None else server.env()["PRIVCHAT_JWT_SECRET"]
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize("case", ["garbage", "other-secret", "alg-none", "expired", "revoked", "kicked"])
async def test_refused_tokens_close_with_4403(ws_server: ServerProcess, case: str) -> None:
    username = await new_user(ws_server)
    token = await login(ws_server, username, "A")
    if case == "garbage":
        token = "not-a-jwt"
    elif case == "other-secret":
        token = _forged(ws_server, token, secret="another-secret-" + "z" * 40)
    elif case == "alg-none":
        token = jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, algorithm="none")
    elif case == "expired":
        token = _forged(ws_server, token, expired=True)
    elif case == "revoked":
        await graphql(ws_server, "mutation { accountAuthLogout { ok } }", {}, token)
    elif case == "kicked":
        await kick(ws_server, await login(ws_server, username, "B"), "A")
    async with socket(ws_server, TRANSPORT_WS) as ws:
        await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert await close_code(ws) == (4403, "Forbidden")


async def test_a_valid_token_is_acknowledged(ws_server: ServerProcess) -> None:
    token = await login(ws_server, await new_user(ws_server), "A")
    async with socket(ws_server, TRANSPORT_WS) as ws:
        assert (await init(ws, token))["type"] == "connection_ack"
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_a_null_connection_init_payload_is_allowed(ws_server: ServerProcess) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        await send(ws, {"type": "connection_init", "payload": None})
        assert (await receive(ws))["type"] == "connection_ack"


@pytest.mark.parametrize("protocols", [("graphql-nope",), ()])
async def test_unknown_subprotocols_close_with_4406(ws_server: ServerProcess, protocols: tuple[str, ...]) -> None:
    async with socket(ws_server, *protocols) as ws:
        assert ws.subprotocol is None
        code, _ = await close_code(ws)
    assert code == 4406


@pytest.fixture(scope="module")
def impatient_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_env={"PRIVCHAT_HTTP__WS_CONNECTION_INIT_TIMEOUT_SECONDS": "0.5"})


async def test_no_connection_init_in_time_closes_with_4408(impatient_server: ServerProcess) -> None:
    server = impatient_server
    async with socket(server, TRANSPORT_WS) as ws:
        # No message sent; with the default timeout (10 s) this would outlast WAIT_S/2.
        started = time.monotonic()
        assert await close_code(ws) == (4408, "Connection initialisation timeout")
    assert time.monotonic() - started < WAIT_S / 2
    async with socket(server, TRANSPORT_WS) as ws:  # a prompt client is served
        assert (await init(ws))["type"] == "connection_ack"


async def test_a_duplicate_subscription_id_closes_with_4409(ws_server: ServerProcess) -> None:
    token = await login(ws_server, await new_user(ws_server), "A")
    async with socket(ws_server, TRANSPORT_WS) as ws:
        assert (await init(ws, token))["type"] == "connection_ack"
        subscribe = {"type": "subscribe", "id": "dup", "payload": {"query": EVENTS}}
        await send(ws, subscribe)
        await send(ws, subscribe)
        assert await close_code(ws) == (4409, "Subscriber for dup already exists")


async def test_a_second_connection_init_closes_with_4429(ws_server: ServerProcess) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        assert (await init(ws))["type"] == "connection_ack"
        await send(ws, {"type": "connection_init", "payload": {}})
        assert await close_code(ws) == (4429, "Too many initialisation requests")


async def test_a_second_legacy_connection_init_closes_with_4429_too(ws_server: ServerProcess) -> None:
    # It used to be acknowledged again (100 inits, 100 acks and 100 keep-alive tasks).
    async with socket(ws_server, LEGACY_WS) as ws:
        assert (await init(ws))["type"] == "connection_ack"
        await send(ws, {"type": "connection_init", "payload": {}})
        assert await close_code(ws) == (4429, "Too many initialisation requests")


async def test_operations_errors_carry_codes(ws_server: ServerProcess) -> None:
    async with socket(ws_server, TRANSPORT_WS) as ws:
        assert (await init(ws))["type"] == "connection_ack"  # anonymous
        await send(ws, {"type": "subscribe", "id": "anon", "payload": {"query": EVENTS}})
        anonymous = await receive(ws)
        if anonymous["type"] == "next":  # a field error: the operation then completes
            assert await receive(ws) == {"type": "complete", "id": "anon"}
        aliases = " ".join(f"a{i}: __typename" for i in range(200))
        await send(
            ws, {"type": "subscribe", "id": "big", "payload": {"query": f"subscription {{ events {{ {aliases} }} }}"}}
        )
        too_big = await receive(ws)
        await send(ws, {"type": "subscribe", "id": "bad", "payload": {"query": "subscription { nope }"}})
        invalid = await receive(ws)
    assert anonymous["id"] == "anon"
    assert anonymous["type"] in ("next", "error")
    assert _codes(anonymous) == ["UNAUTHENTICATED"]
    assert (too_big["id"], too_big["type"]) == ("big", "error")
    assert "QUERY_TOO_COMPLEX" in _codes(too_big)
    assert (invalid["id"], invalid["type"]) == ("bad", "error")
    assert _codes(invalid) == ["GRAPHQL_VALIDATION_FAILED"]


def _codes(message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors", [payload])
    return [e["extensions"]["code"] for e in errors]


# --- the events subscription, end to end --------------------------------------------------

START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}
DATA = {TRANSPORT_WS: "next", LEGACY_WS: "data"}


async def until_stream_is_live(
    server: ServerProcess, ws: ClientConnection, username: str, kicker: str, protocol: str
) -> None:
    """Kick throw-away devices until the stream delivers one of those kicks, so we know the
    subscription is listening (the protocols do not acknowledge a subscribe)."""
    async with asyncio.timeout(30):
        for attempt in itertools.count():
            await login(server, username, f"C{attempt}")
            await kick(server, kicker, f"C{attempt}")
            try:
                message = await receive(ws, within=1.0)
            except TimeoutError:
                continue
            assert message["type"] == DATA[protocol], message
            event = message["payload"]["data"]["events"]
            assert event["__typename"] == "SessionRevokedEvent" and event["deviceIds"][0].startswith("C")
            return


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_kicked_device_gets_session_revoked_and_its_stream_ends(ws_server: ServerProcess, protocol: str) -> None:
    username = await new_user(ws_server)
    device_a = await login(ws_server, username, "A")
    device_b = await login(ws_server, username, "B")
    async with socket(ws_server, protocol) as ws:
        assert (await init(ws, device_a))["type"] == "connection_ack"
        await send(ws, {"type": START[protocol], "id": "events", "payload": {"query": EVENTS}})
        await until_stream_is_live(ws_server, ws, username, device_b, protocol)

        await kick(ws_server, device_b, "A")
        revoked = await receive(ws)
        assert revoked == {
            "type": DATA[protocol],
            "id": "events",
            "payload": {
                "data": {"events": {"__typename": "SessionRevokedEvent", "deviceIds": ["A"], "reason": "kicked"}}
            },
        }
        ended = await receive(ws)
        assert ended["id"] == "events" and ended["type"] in (DATA[protocol], "error")
        assert _codes(ended) == ["SESSION_REVOKED"]
        assert await receive(ws) == {"type": "complete", "id": "events"}


# --- legacy graphql-ws --------------------------------------------------------------------


async def test_legacy_protocol_sends_keep_alives(ws_server: ServerProcess) -> None:
    async with socket(ws_server, LEGACY_WS) as ws:
        await send(ws, {"type": "connection_init", "payload": {}})
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        async with asyncio.timeout(WAIT_S):  # 3 at the configured 0.2 s; the default 15 s would time out
            kas = [json.loads(await ws.recv()) for _ in range(3)]
    assert kas == [{"type": "ka"}] * 3


async def test_legacy_protocol_refuses_bad_tokens_with_connection_error(ws_server: ServerProcess) -> None:
    async with socket(ws_server, LEGACY_WS) as ws:
        await send(ws, {"type": "connection_init", "payload": {"authorization": "Bearer forged"}})
        refusal = await receive(ws)
        assert refusal == {
            "type": "connection_error",
            "payload": {"code": "UNAUTHENTICATED", "message": "invalid access token"},
        }
        await close_code(ws)


async def test_legacy_protocol_answers_invalid_messages_with_errors(ws_server: ServerProcess) -> None:
    async with socket(ws_server, LEGACY_WS) as ws:
        for message in ([], {"type": 1}, {"type": "nope", "id": "7"}, {"type": "start", "id": "1", "payload": "x"}):
            await send(ws, message)
            error = await receive(ws)
            assert error["type"] == "error" and error["payload"]["extensions"]["code"] == "PROTOCOL_ERROR"
        assert error["id"] == "1"
        # The connection is still usable.
        await send(ws, {"type": "connection_init", "payload": {}})
        assert (await receive(ws))["type"] == "connection_ack"


async def test_legacy_start_before_the_ack_closes_with_4401(ws_server: ServerProcess) -> None:
    async with socket(ws_server, LEGACY_WS) as ws:
        await send(ws, {"type": "start", "id": "1", "payload": {"query": EVENTS}})
        assert (await close_code(ws))[0] == 4401


PROFILE = "query Me { accountProfileGet { profile { username displayName } } }"
RENAME = "mutation Rename($n: String!) { accountProfileUpdate(input: {displayName: $n}) { profile { displayName } } }"


async def test_legacy_protocol_runs_queries_and_mutations(ws_server: ServerProcess) -> None:
    username = await new_user(ws_server)
    token = await login(ws_server, username, "Q")
    async with socket(ws_server, LEGACY_WS) as ws:
        assert (await init(ws, token))["type"] == "connection_ack"
        await send(ws, {"type": "start", "id": "q", "payload": {"query": PROFILE}})
        assert await receive(ws) == {
            "type": "data", "id": "q",
            "payload": {"data": {"accountProfileGet": {"profile": {"username": username, "displayName": username}}}},
        }
        assert await receive(ws) == {"type": "complete", "id": "q"}
        # The id is free again once the operation completed.
        await send(ws, {"type": "start", "id": "q", "payload": {"query": RENAME, "variables": {"n": "Over WS"}}})
        assert await receive(ws) == {
            "type": "data", "id": "q", "payload": {"data": {"accountProfileUpdate": {"profile": {"displayName": "Over WS"}}}},
        }
        assert await receive(ws) == {"type": "complete", "id": "q"}
        # An invalid document is an `error` for that id; a refused operation is `data` with errors.
        await send(ws, {"type": "start", "id": "bad", "payload": {"query": "query { accountProfileGet { nope } }"}})
        invalid = await receive(ws)
        assert (invalid["type"], invalid["id"]) == ("error", "bad")
        assert invalid["payload"]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await send(ws, {"type": "start", "id": "big", "payload": {"query": RENAME, "variables": {"n": "x" * 10_000}}})
        refused = await receive(ws)
        assert (refused["type"], refused["id"]) == ("data", "big")
        assert _codes(refused) == ["BAD_USER_INPUT"]
        assert await receive(ws) == {"type": "complete", "id": "big"}
    profile = await graphql(ws_server, PROFILE, {}, token)
    assert profile["accountProfileGet"]["profile"]["displayName"] == "Over WS"  # the mutation was committed


async def test_legacy_anonymous_queries_run_and_protected_ones_are_refused(ws_server: ServerProcess) -> None:
    async with socket(ws_server, LEGACY_WS) as ws:
        assert (await init(ws))["type"] == "connection_ack"
        await send(ws, {"type": "start", "id": "h", "payload": {"query": "{ systemHealth { status } }"}})
        assert await receive(ws) == {"type": "data", "id": "h", "payload": {"data": {"systemHealth": {"status": "ok"}}}}
        assert await receive(ws) == {"type": "complete", "id": "h"}
        await send(ws, {"type": "start", "id": "me", "payload": {"query": PROFILE}})
        refused = await receive(ws)
        assert (refused["type"], refused["id"]) == ("data", "me") and _codes(refused) == ["UNAUTHENTICATED"]
        assert await receive(ws) == {"type": "complete", "id": "me"}


# --- a third-party client ------------------------------------------------------------------


async def test_gql_client_receives_the_events_stream(ws_server: ServerProcess) -> None:
    from gql import Client, gql
    from gql.transport.exceptions import TransportQueryError
    from gql.transport.websockets import WebsocketsTransport

    username = await new_user(ws_server)
    device_a = await login(ws_server, username, "A")
    device_b = await login(ws_server, username, "B")
    transport = WebsocketsTransport(
        url=ws_server.ws_url,
        init_payload={"authorization": f"Bearer {device_a}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    received: asyncio.Queue[dict[str, Any] | Exception | None] = asyncio.Queue()

    async with Client(transport=transport) as session:

        async def consume() -> None:
            try:
                async for item in session.subscribe(gql(EVENTS)):
                    await received.put(item)
                await received.put(None)
            except Exception as exc:
                await received.put(exc)

        consumer = asyncio.create_task(consume())
        try:
            async with asyncio.timeout(30):  # until the stream is live (see until_stream_is_live)
                for attempt in itertools.count():
                    await login(ws_server, username, f"C{attempt}")
                    await kick(ws_server, device_b, f"C{attempt}")
                    try:
                        first = await asyncio.wait_for(received.get(), 1.0)
                    except TimeoutError:
                        continue
                    assert isinstance(first, dict) and first["events"]["deviceIds"][0].startswith("C"), first
                    break
            await kick(ws_server, device_b, "A")
            revoked = await asyncio.wait_for(received.get(), WAIT_S)
            assert revoked == {"events": {"__typename": "SessionRevokedEvent", "deviceIds": ["A"], "reason": "kicked"}}
            ended = await asyncio.wait_for(received.get(), WAIT_S)
            assert isinstance(ended, TransportQueryError), ended
            assert ended.errors is not None and ended.errors[0]["extensions"]["code"] == "SESSION_REVOKED"
        finally:
            consumer.cancel()


async def test_gql_legacy_client_runs_queries_mutations_and_the_events_stream(ws_server: ServerProcess) -> None:
    """gql's subscriptions-transport-ws transport, unmodified: everything over one socket."""
    from gql import Client, gql
    from gql.transport.exceptions import TransportQueryError
    from gql.transport.websockets import WebsocketsTransport

    username = await new_user(ws_server)
    device_a = await login(ws_server, username, "A")
    device_b = await login(ws_server, username, "B")
    transport = WebsocketsTransport(
        url=ws_server.ws_url,
        init_payload={"authorization": f"Bearer {device_a}"},
        subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        me = await session.execute(gql(PROFILE))
        assert me["accountProfileGet"]["profile"]["username"] == username
        rename, too_long = gql(RENAME), gql(RENAME)
        rename.variable_values, too_long.variable_values = {"n": "Legacy Ann"}, {"n": "x" * 10_000}
        renamed = await session.execute(rename)
        assert renamed == {"accountProfileUpdate": {"profile": {"displayName": "Legacy Ann"}}}
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(too_long)
        assert refused.value.errors is not None and refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"

        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def consume() -> None:
            async for item in session.subscribe(gql(EVENTS)):
                await received.put(item)

        consumer = asyncio.create_task(consume())
        try:
            async with asyncio.timeout(30):  # until the stream is live (see until_stream_is_live)
                for attempt in itertools.count():
                    await login(ws_server, username, f"C{attempt}")
                    await kick(ws_server, device_b, f"C{attempt}")
                    try:
                        first = await asyncio.wait_for(received.get(), 1.0)
                    except TimeoutError:
                        continue
                    assert first["events"]["__typename"] == "SessionRevokedEvent"
                    break
            # A query on the same socket while the subscription runs.
            again = await session.execute(gql(PROFILE))
            assert again["accountProfileGet"]["profile"]["displayName"] == "Legacy Ann"
        finally:
            consumer.cancel()
