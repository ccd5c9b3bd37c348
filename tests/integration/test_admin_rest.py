"""The admin REST door on the service port: generated from the registry, X-Service-Key, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from app.asgi import service_app
from app.config import Settings
from app.runtime import Services
from schema.admin_rest import admin_operations, admin_rest_routes, bindings_for
from tests.support import factories

SERVICE_KEY = "service-key-for-tests-" + "r" * 20
KEY = {"x-service-key": SERVICE_KEY}


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY})


@pytest.fixture
async def rest(services: Services, api: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = service_app(services, extra_routes=admin_rest_routes(api, services))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_every_admin_operation_has_a_path_and_the_openapi_document_is_valid(
    rest: httpx.AsyncClient, api: Any
) -> None:
    response = await rest.get("/api/admin/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # OpenAPI 3.1 (JSON Schema 2020-12), by openapi-spec-validator
    assert document["openapi"] == "3.1.0"
    described = {
        entry["description"].split("`")[1] for methods in document["paths"].values() for entry in methods.values()
    }
    assert described == {op.route for op in admin_operations(api)}
    assert document["paths"]["/api/admin/users"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"
    ] == ["username", "password"]
    assert {b.route for b in bindings_for(api)} == described


async def test_create_list_and_page_users_over_rest(rest: httpx.AsyncClient) -> None:
    made = await rest.post(
        "/api/admin/users", json={"username": "dora", "password": factories.PASSWORD, "isAdmin": True}, headers=KEY
    )
    assert made.status_code == 201, made.text
    assert made.json()["user"]["username"] == "dora" and made.json()["user"]["isAdmin"] is True
    for i in range(3):
        assert (
            await rest.post(
                "/api/admin/users", json={"username": f"m{i}x", "password": factories.PASSWORD}, headers=KEY
            )
        ).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await rest.get("/api/admin/users", params=params, headers=KEY)).json()
        seen += [u["username"] for u in page["users"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["dora", "m0x", "m1x", "m2x"]
    conflict = await rest.post(
        "/api/admin/users", json={"username": "DORA", "password": factories.PASSWORD}, headers=KEY
    )
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "CONFLICT"


async def test_friendships_and_groups_on_the_seed_paths(rest: httpx.AsyncClient, services: Services) -> None:
    ann = await factories.register(services, "ann")
    bob = await factories.register(services, "bob")
    made = await rest.post("/api/admin/friendships", json={"userId": str(ann), "friendId": str(bob)}, headers=KEY)
    assert made.status_code == 201, made.text
    of_ann = (await rest.get(f"/api/admin/friendships/user/{ann}", headers=KEY)).json()
    assert [(f["user"]["id"], f["friend"]["id"]) for f in of_ann["friendships"]] == [(str(ann), str(bob))]
    removed = await rest.delete("/api/admin/friendships", params={"userId": ann, "friendId": bob}, headers=KEY)
    assert removed.status_code == 200 and removed.json() == {"ok": True}
    assert (await rest.get("/api/admin/friendships", headers=KEY)).json()["friendships"] == []
    assert (await rest.get("/api/admin/groups", headers=KEY)).status_code == 200
    missing = await rest.get("/api/admin/groups/999999", headers=KEY)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


async def test_keys_and_tokens_are_checked(rest: httpx.AsyncClient, services: Services) -> None:
    for headers in ({}, {"x-service-key": "wrong"}, {"x-service-key": SERVICE_KEY[:-1]}, {"x-service-key": ""}):
        refused = await rest.get("/api/admin/users", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["code"] == "UNAUTHENTICATED"
    await factories.register(services, "ann")
    ann = await factories.login(services, "ann")
    as_user = await rest.get("/api/admin/users", headers={"authorization": f"Bearer {ann.access_token}"})
    assert as_user.status_code == 403 and as_user.json()["error"]["code"] == "FORBIDDEN"
    await services.accounts.register(username="boss", password=factories.PASSWORD, display_name=None, is_admin=True)
    boss = await factories.login(services, "boss")
    as_admin = await rest.get("/api/admin/users", headers={"authorization": f"Bearer {boss.access_token}"})
    assert as_admin.status_code == 200 and len(as_admin.json()["users"]) == 2


async def test_bad_requests_are_refused_with_clear_errors(rest: httpx.AsyncClient) -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/api/admin/users", {"params": {"limit": 100000}}, "limit must be"),
        ("GET", "/api/admin/users", {"params": {"limit": "ten"}}, "limit: not a number"),
        ("GET", "/api/admin/users", {"params": {"bogus": "1"}}, "unknown parameter 'bogus'"),
        ("GET", "/api/admin/groups/abc", {}, "group_id: not a valid id"),
        ("POST", "/api/admin/users", {"content": b"{not json"}, "not valid JSON"),
        ("POST", "/api/admin/users", {"json": [1, 2]}, "must be a JSON object"),
        ("POST", "/api/admin/users", {"json": {"username": "eve", "password": 5}}, "invalid arguments"),
        (
            "POST",
            "/api/admin/users",
            {"json": {"username": "eve", "password": factories.PASSWORD, "shoeSize": 44}},
            "shoeSize",
        ),
    ]
    for method, path, kwargs, text in cases:
        response = await rest.request(method, path, headers=KEY, **kwargs)
        assert response.status_code == 400, (path, kwargs, response.text)
        error = response.json()["error"]
        assert error["code"] == "BAD_USER_INPUT" and text in error["message"], (kwargs, error)
    # Nothing half-done: eve was never created.
    users = (await rest.get("/api/admin/users", params={"query": "eve"}, headers=KEY)).json()["users"]
    assert users == []
    assert (await rest.put("/api/admin/users", headers=KEY)).status_code == 405
    huge = await rest.post("/api/admin/users", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers=KEY)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:
        for _ in range(3):
            yield b" " * (512 * 1024)

    streamed = await rest.post("/api/admin/users", content=chunks(), headers=KEY)
    assert streamed.status_code == 413


async def test_without_a_configured_key_every_key_is_refused(settings_factory: Any, tmp_path: Any) -> None:
    from app import runtime
    from app.main import build_api

    settings = settings_factory()
    assert settings.security.service_key is None
    services = runtime.build_services(settings)
    await runtime.start(services)
    try:
        app = service_app(services, extra_routes=admin_rest_routes(build_api(settings), services))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for key in ("", "anything", "None"):
                response = await http.get("/api/admin/users", headers={"x-service-key": key})
                assert response.status_code == 401
    finally:
        await runtime.stop(services)


async def test_groups_are_managed_as_a_super_owner(rest: httpx.AsyncClient, services: Services, gql: Any) -> None:
    from tests.integration.test_groups import HISTORY, accounts, create, member_ids, ok, uid, updates

    ann, bob, cid = await accounts(services, "ann", "bob", "cid")
    gid = await create(gql, ann, [bob])
    # cid's privacy and friendships do not matter to an administrator.
    added = await rest.post(f"/api/admin/groups/{gid}/members", json={"userIds": [uid(cid), uid(bob)]}, headers=KEY)
    assert added.status_code == 200, added.text
    assert added.json() == {"addedUserIds": [uid(cid)]}
    renamed = await rest.patch(f"/api/admin/groups/{gid}", json={"name": "Moderated"}, headers=KEY)
    assert renamed.status_code == 200 and renamed.json()["group"]["name"] == "Moderated"
    assert (await rest.patch(f"/api/admin/groups/{gid}", json={"avatarFileId": "x"}, headers=KEY)).status_code == 400
    owner_out = await rest.delete(f"/api/admin/groups/{gid}/members/{uid(ann)}", headers=KEY)
    assert owner_out.status_code == 400 and "owner" in owner_out.json()["error"]["message"]
    removed = await rest.delete(f"/api/admin/groups/{gid}/members/{uid(bob)}", params={"ban": "true"}, headers=KEY)
    assert removed.status_code == 200, removed.text
    assert sorted(await member_ids(gql, ann, gid)) == sorted([uid(ann), uid(cid)])
    lines = [
        m["content"]["text"]
        for m in (await ok(gql, HISTORY, ann, c=gid))["messageHistoryGet"]["messages"]
        if m["type"] == "SYSTEM"
    ]
    assert lines[-3:] == [
        "An administrator added cid",
        "An administrator renamed the group to \u201cModerated\u201d",
        "An administrator removed bob",
    ]
    assert any(u["__typename"] == "ChannelRemovedEvent" for u in await updates(gql, bob))
