"""The admin audit log: every privileged call, allowed or refused, append-only, queryable."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.config import Settings
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient, GraphQLResult

SERVICE_KEY = "service-key-for-tests-" + "a" * 20
CREATE_USER = "mutation($i: AdminUserCreateInput!) { adminUserCreate(input: $i) { user { id } } }"
LIST_USERS = "query { adminUserList(input: {limit: 5}) { users { id } } }"
AUDIT = """query($i: AdminAuditListInput!) { adminAuditList(input: $i) {
  entries { id at actorKind actorUserId route transport args target result ip } nextCursor } }"""


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY})


async def as_service(gql: GraphQLClient, query: str, **variables: Any) -> GraphQLResult:
    response = await gql.http.post(
        gql.path, json={"query": query, "variables": variables}, headers={"x-service-key": SERVICE_KEY}
    )
    return GraphQLResult(response.status_code, response.json())


async def audit(gql: GraphQLClient, **filters: Any) -> list[dict[str, Any]]:
    result = await as_service(gql, AUDIT, i={"limit": 100, **filters})
    return list(result.data["adminAuditList"]["entries"])


async def test_calls_are_recorded_with_actor_target_result_and_masked_secrets(
    services: Services, gql: GraphQLClient
) -> None:
    made = await as_service(gql, CREATE_USER, i={"username": "dora", "password": "a-secret-password-1"})
    dora_id = made.data["adminUserCreate"]["user"]["id"]
    await factories.register(services, "ann")
    ann = await factories.login(services, "ann")
    refused = await gql.execute(LIST_USERS, token=ann.access_token)
    assert refused.error_code == "FORBIDDEN"
    assert (await gql.execute(LIST_USERS)).error_code == "UNAUTHENTICATED"

    entries = await audit(gql)
    # Newest first; the audit reads themselves are not yet in this page's snapshot.
    by_route = [(e["route"], e["actorKind"], e["actorUserId"], e["result"]) for e in entries]
    assert by_route == [
        ("admin/user/list", "anonymous", None, "UNAUTHENTICATED"),
        ("admin/user/list", "user", str(ann.user_id), "FORBIDDEN"),
        ("admin/user/create", "service_key", None, "OK"),
    ]
    created = entries[-1]
    assert created["args"]["username"] == "dora"
    assert created["args"]["password"] == "***"
    assert "a-secret-password-1" not in str(entries)
    assert created["ip"] == "127.0.0.1" and created["transport"] == "http"
    assert dora_id  # the target of a create is its username
    assert created["target"] == "username:dora"

    forbidden = await audit(gql, actorUserId=str(ann.user_id))
    assert [e["result"] for e in forbidden] == ["FORBIDDEN"]
    assert [e["route"] for e in await audit(gql, route="admin/user/create")] == ["admin/user/create"]
    metrics = services.metrics.render().decode()
    assert 'privchat_admin_actions_total{result="FORBIDDEN",route="admin/user/list"} 1.0' in metrics


async def test_pages_are_newest_first_and_complete(services: Services, gql: GraphQLClient) -> None:
    for _ in range(5):
        await as_service(gql, LIST_USERS)
    seen: list[str] = []
    cursor = None
    while True:
        page = (await as_service(gql, AUDIT, i={"limit": 2, "route": "admin/user/list", "cursor": cursor})).data[
            "adminAuditList"
        ]
        seen += [e["id"] for e in page["entries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, key=int, reverse=True)
    bad = await as_service(gql, AUDIT, i={"limit": 1000})
    assert bad.error_code == "BAD_USER_INPUT"


async def test_the_log_is_append_only(services: Services, gql: GraphQLClient) -> None:
    await as_service(gql, LIST_USERS)
    for statement in ("UPDATE admin_audit SET result = 'OK'", "DELETE FROM admin_audit"):
        with pytest.raises(Exception, match="append-only"):
            async with services.db.transaction() as tx:
                await tx.session.execute(text(statement))
    assert len(await audit(gql, route="admin/user/list")) == 1
