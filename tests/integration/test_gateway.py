"""The gateway in this process on a real TCP port, over real services (SQLite or
PostgreSQL + Redis): CONNECT, RPC through the registry, held and live PUSHes, kicks,
token renewal, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app import runtime
from app.config import Settings
from app.runtime import Services
from app.security import TokenService
from gateway_native.client import Disconnected, Endpoint, NativeConnection, RpcError
from gateway_native.gateway import Gateway
from tests.conftest import TEST_SECRET
from tests.support import factories
from tests.support.server import free_port


@dataclass
class Running:
    services: Services
    gateway: Gateway
    endpoint: Endpoint

    async def open(self) -> NativeConnection:
        return await NativeConnection.open(self.endpoint, ping_interval=None, rpc_timeout=20)

    async def connected(self, account: factories.Account) -> NativeConnection:
        conn = await self.open()
        await conn.connect(account.access_token, device_id=account.device_id)
        return conn


@pytest.fixture
async def running(settings_factory: Callable[..., Settings]) -> AsyncIterator[Running]:
    from app.main import build_api

    port = free_port()
    settings = settings_factory(gateway={"tcp_port": port, "listeners": [{"protocol": "tcp", "host": "127.0.0.1"}]})
    services = runtime.build_services(settings)
    await runtime.start(services)
    gateway = Gateway(api=build_api(settings), services=services)
    await gateway.start()
    try:
        yield Running(services, gateway, Endpoint("tcp", "127.0.0.1", port))
    finally:
        await gateway.close()
        await runtime.stop(services)


async def next_push(conn: NativeConnection, typename: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            event = await conn.pushes.get()
            if event["__typename"] == typename:
                return event


def metric(services: Services, line_start: str) -> float:
    for line in services.metrics.render().decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_before_connect_only_auth_free_routes_work(running: Running) -> None:
    await factories.register(running.services, "ann")
    conn = await running.open()
    try:
        assert (await conn.call("system/health"))["status"] == "ok"
        with pytest.raises(RpcError) as refused:
            await conn.call("account/profile/get")
        assert refused.value.code == "UNAUTHENTICATED"
        login = await conn.call(
            "account/auth/login",
            {"username": "ann", "password": factories.PASSWORD, "deviceId": "phone", "platform": "ios"},
        )
        ack = await conn.connect(login["accessToken"], device_id="phone")
        assert ack.user_id == login["user"]["id"]
        assert (await conn.call("account/profile/get"))["profile"]["username"] == "ann"
    finally:
        await conn.close()


async def test_rpcs_pipelined_behind_connect_run_as_the_device(running: Running) -> None:
    ann = await factories.account(running.services, "ann")
    conn = await running.open()
    try:
        connect = asyncio.create_task(conn.connect(ann.access_token, device_id=ann.device_id))
        await asyncio.sleep(0)  # the CONNECT frame goes out first
        profile = await conn.call("account/profile/get")
        await connect
        assert profile["profile"]["username"] == "ann"
    finally:
        await conn.close()


async def test_pushes_are_held_until_session_ready_then_flow_live(running: Running) -> None:
    services = running.services
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    conn = await running.connected(bob)
    try:
        held_pts = await factories.send_text(services, ann, channel, "while syncing")
        await asyncio.sleep(0.2)
        assert conn.pushes.empty()  # held: the device is still syncing
        ready = await conn.call("sync/session_ready")
        assert ready["ok"] is True
        event = await next_push(conn, "MessageEvent")
        assert (event["pts"], event["message"]["content"]) == (
            held_pts,
            {"__typename": "TextContent", "text": "while syncing"},
        )
        live_pts = await factories.send_text(services, ann, channel, "live")
        event = await next_push(conn, "MessageEvent")
        assert event["pts"] == live_pts == held_pts + 1
    finally:
        await conn.close()


async def test_kicking_a_device_disconnects_its_connection_even_while_held(running: Running) -> None:
    services = running.services
    phone = await factories.account(services, "kim", device_id="phone")
    laptop = await factories.login(services, "kim", device_id="laptop")
    conn = await running.connected(laptop)  # never calls session_ready: its events are held
    other = await running.connected(phone)
    try:
        await services.devices.revoke(phone.principal, "laptop", reason="kicked")
        async with asyncio.timeout(10):
            ended = await conn.wait_closed()
        assert (ended.code, ended.reason) == ("SESSION_REVOKED", "this device session was kicked")
        assert not other.is_closed
        assert (await other.call("device/list"))["devices"][0]["deviceId"] == "phone"
    finally:
        await conn.close()
        await other.close()


async def test_refused_connects_say_why(running: Running) -> None:
    services = running.services
    ann = await factories.account(services, "ann", device_id="phone")
    past = TokenService(secret=TEST_SECRET, access_ttl_seconds=-60, refresh_ttl_seconds=60)
    expired = past.issue_access(user_id=ann.user_id, session_id=ann.principal.session_id, device_id="phone")
    cases = [
        ("garbage", "phone", "UNAUTHENTICATED"),
        (ann.access_token, "tablet", "UNAUTHENTICATED"),
        (expired, "phone", "TOKEN_EXPIRED"),
    ]
    for token, device, code in cases:
        conn = await running.open()
        with pytest.raises(Disconnected) as refused:
            await conn.connect(token, device_id=device)
        assert refused.value.code == code, (device, refused.value)
        await conn.close()
    await services.devices.logout(ann.principal)
    conn = await running.open()
    with pytest.raises(Disconnected) as refused:
        await conn.connect(ann.access_token, device_id="phone")
    assert refused.value.code == "SESSION_REVOKED"
    await conn.close()


async def test_a_connect_on_a_live_connection_renews_the_token_of_the_same_session(running: Running) -> None:
    services = running.services
    ann = await factories.account(services, "ann", device_id="phone")
    conn = await running.connected(ann)
    try:
        fresh = await conn.call("account/auth/refresh", {"refreshToken": ann.refresh_token})
        ack = await conn.connect(fresh["accessToken"], device_id="phone")
        assert ack.session_id == str(ann.principal.session_id)
        assert (await conn.call("account/profile/get"))["profile"]["username"] == "ann"
        other = await factories.login(services, "ann", device_id="tablet")
        with pytest.raises(Disconnected) as refused:
            await conn.connect(other.access_token, device_id="tablet")
        assert refused.value.code == "PROTOCOL_ERROR"
    finally:
        await conn.close()


async def test_argument_errors_and_unknown_routes_are_typed_answers(running: Running) -> None:
    ann = await factories.account(running.services, "ann")
    conn = await running.connected(ann)
    try:
        for route, args, code in [
            ("no/such/route", None, "UNKNOWN_ROUTE"),
            ("account/user/detail", {"userId": ["1"]}, "BAD_USER_INPUT"),
            ("account/user/detail", {}, "BAD_USER_INPUT"),
            ("account/user/detail", {"userId": "1", "extra": True}, "BAD_USER_INPUT"),
            ("account/user/detail", [1, 2], "BAD_USER_INPUT"),
            ("events", None, "BAD_USER_INPUT"),  # a subscription is not an RPC
        ]:
            with pytest.raises(RpcError) as refused:
                await conn.call(route, args)  # type: ignore[arg-type]
            assert refused.value.code == code, (route, args)
        assert not conn.is_closed
    finally:
        await conn.close()


async def test_metrics_count_connections_frames_and_protocol_errors(running: Running) -> None:
    services = running.services
    ann = await factories.account(services, "ann")
    conn = await running.connected(ann)
    await conn.ping()
    assert metric(services, 'privchat_connections_current{transport="tcp"}') == 1
    assert metric(services, 'privchat_gateway_frames_total{direction="in",transport="tcp",type="PING"}') == 1
    assert metric(services, 'privchat_gateway_frames_total{direction="out",transport="tcp",type="CONNECT_ACK"}') == 1
    await conn.send_raw(b"\x00\x00\x00\x00")
    async with asyncio.timeout(10):
        ended = await conn.wait_closed()
    assert ended.code == "PROTOCOL_ERROR"
    await conn.close()
    assert metric(services, 'privchat_gateway_protocol_errors_total{kind="empty_frame",transport="tcp"}') == 1
    assert metric(services, 'privchat_gateway_disconnects_total{code="PROTOCOL_ERROR",transport="tcp"}') == 1
    # the server let go of the connection before its DISCONNECT left
    assert metric(services, 'privchat_connections_current{transport="tcp"}') == 0


async def test_shutdown_answers_in_flight_rpcs_then_disconnects_everyone(running: Running) -> None:
    ann = await factories.account(running.services, "ann")
    conns = [await running.connected(ann) for _ in range(3)]
    gateway = running.gateway
    # Hold one RPC inside the server, so it is certainly in flight when shutdown begins.
    entered, release = asyncio.Event(), asyncio.Event()
    dispatch = gateway.dispatcher.call

    async def held_call(caller: Any, route: str, args: Any) -> Any:
        entered.set()
        await release.wait()
        return await dispatch(caller, route, args)

    gateway.dispatcher.call = held_call  # type: ignore[method-assign]
    call = asyncio.create_task(conns[0].call("device/list"))
    async with asyncio.timeout(10):
        await entered.wait()
    shutdown = asyncio.create_task(gateway.shutdown(grace=30))
    async with asyncio.timeout(10):
        for c in conns[1:]:  # idle connections are told at once
            assert (await c.wait_closed()).code == "SERVER_SHUTDOWN"
    assert not conns[0].is_closed  # the busy one waits for its RPC
    with pytest.raises(OSError):
        await running.open()  # no longer accepting
    release.set()
    async with asyncio.timeout(10):
        assert (await call)["devices"]  # answered before the DISCONNECT
        assert (await conns[0].wait_closed()).code == "SERVER_SHUTDOWN"
        await shutdown
    for c in conns:
        await c.close()


async def test_the_sdk_refreshes_an_expired_token_and_connects(running: Running) -> None:
    from gateway_native.client import Client

    services = running.services
    await factories.register(services, "ann")
    client = Client(running.endpoint, device_id="phone", ping_interval=None, reconnect=False)
    ttl = services.tokens.access_ttl_seconds
    services.tokens.access_ttl_seconds = -60  # the login hands out an already expired access token
    try:
        await client.login("ann", factories.PASSWORD)
    finally:
        services.tokens.access_ttl_seconds = ttl
    expired = client.access_token
    ack = await client.start()  # CONNECT is refused as TOKEN_EXPIRED; the SDK refreshes and connects
    try:
        assert client.access_token != expired
        assert ack.user_id == client.user_id
        assert (await client.call("account/profile/get"))["profile"]["username"] == "ann"
    finally:
        await client.close()
