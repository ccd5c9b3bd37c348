"""One registry, two doors, checked route by route against a real server process.

Every query and mutation of `api.registry` is called through GraphQL over HTTP and
through a native gateway connection, and the two answers must agree: the same error
code, or the same data. Mutations change state, so each door gets its own "world" (the
same users, channels and messages, set up the same way) and the samples run in the
same order in both; the comparison then ignores what must differ between two worlds:
ids (compared by their pattern of equality), tokens, timestamps and cursors, and the
world's name suffix in strings.

`SAMPLES` holds a call with real arguments per route. A route whose setup this module
cannot know (a domain still being built) may instead be listed in `ERROR_PATH_ONLY`:
it is then called with its required arguments missing (or anonymously, when it needs
none) and both doors must give the same error. A registered route in neither table
fails `test_every_route_has_a_sample`, so a new operation must come with its sample.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
)

from app.config import HttpSettings
from app.ops import Kind
from gateway_native.client import Endpoint, NativeConnection, RpcError
from resolvers import ALL_OPERATIONS
from schema.build import Api
from tests.support.server import ServerProcess

PASSWORD = "both-doors-pass-1"
SERVICE_KEY = "both-doors-service-key-" + "k" * 20
SERVER_ENV = {
    "PRIVCHAT_SERVICE_KEY": SERVICE_KEY,
    # Two worlds of users come from one address within seconds.
    "PRIVCHAT_SECURITY__REGISTER_PER_IP": "1000/minute",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_IP": "1000/minute",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_ACCOUNT": "1000/minute",
    # Full selections of every field (with an alias per union member field) are large documents.
    "PRIVCHAT_HTTP__MAX_TOKENS": "100000",
    "PRIVCHAT_HTTP__MAX_ALIASES": "1000",
    "PRIVCHAT_HTTP__MAX_QUERY_DEPTH": "30",
    "PRIVCHAT_HTTP__MAX_COMPLEXITY": "1000000",
}


def registry_api() -> Api:
    return Api(ALL_OPERATIONS, HttpSettings())


# -- worlds ---------------------------------------------------------------------------------


@dataclass
class World:
    """Users, devices, a direct channel with messages and a group, made through GraphQL."""

    suffix: str
    ids: dict[str, str] = field(default_factory=dict)  # user name -> user id
    tokens: dict[str, str] = field(default_factory=dict)  # actor -> access token
    refresh: str = ""
    channel: str = ""
    messages: list[str] = field(default_factory=list)
    group: str = ""
    proofs: dict[tuple[str, str], str] = field(default_factory=dict)  # (searcher, found) -> search proof

    def name(self, user: str) -> str:
        return f"{user}{self.suffix}"


class Http:
    def __init__(self, server: ServerProcess) -> None:
        self.client = httpx.AsyncClient(base_url=server.base_url, timeout=30)

    async def execute(self, query: str, variables: dict[str, Any] | None, token: str | None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None, **headers: str
    ) -> Any:
        all_headers = {"authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers)
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=all_headers
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


async def build_world(http: Http, suffix: str) -> World:
    world = World(suffix)
    register = "mutation($i: AccountUserRegisterInput!) { accountUserRegister(input: $i) { user { id } } }"
    login = (
        "mutation($i: AccountAuthLoginInput!) { accountAuthLogin(input: $i) { accessToken refreshToken user { id } } }"
    )

    async def log_in(user: str, device: str) -> dict[str, Any]:
        args = {
            "username": world.name(user),
            "password": PASSWORD,
            "deviceId": device,
            "deviceName": device,
            "platform": "android",
        }
        return (await http.data(login, {"i": args}))["accountAuthLogin"]

    for user in ("ann", "bob", "cara", "dan", "eve", "fay", "zed"):
        await http.data(
            register, {"i": {"username": world.name(user), "password": PASSWORD, "displayName": user.title()}}
        )
        session = await log_in(user, "phone")
        world.ids[user], world.tokens[user] = session["user"]["id"], session["accessToken"]
    for device in ("tablet", "spare"):
        await log_in("ann", device)
    world.tokens["ann_logout"] = (await log_in("ann", "leaving"))["accessToken"]
    world.refresh = (await log_in("ann", "refreshing"))["refreshToken"]
    await log_in("eve", "other")
    await log_in("zed", "other")
    created = "mutation($i: AdminUserCreateInput!) { adminUserCreate(input: $i) { user { id } } }"
    admin = {"username": world.name("admin"), "password": PASSWORD, "isAdmin": True}
    await http.data(created, {"i": admin}, **{"x-service-key": SERVICE_KEY})
    world.tokens["admin"] = (await log_in("admin", "console"))["accessToken"]

    find = (
        "query($i: AccountSearchQueryInput!) { accountSearchQuery(input: $i) { results { user { id } searchProof } } }"
    )
    for searcher, found in (("ann", "bob"), ("cara", "ann"), ("dan", "ann"), ("ann", "eve"), ("ann", "fay")):
        results = await http.data(find, {"i": {"query": world.name(found)}}, world.tokens[searcher])
        proofs = [
            r["searchProof"] for r in results["accountSearchQuery"]["results"] if r["user"]["id"] == world.ids[found]
        ]
        world.proofs[searcher, found] = proofs[0]

    apply = "mutation($i: ContactFriendApplyInput!) { contactFriendApply(input: $i) { outcome } }"
    accept = "mutation($i: ContactFriendAcceptInput!) { contactFriendAccept(input: $i) { channelId } }"

    def by_search(searcher: str, found: str) -> dict[str, Any]:
        return {"i": {"userId": world.ids[found], "source": "SEARCH", "searchProof": world.proofs[searcher, found]}}

    await http.data(apply, by_search("ann", "bob"), world.tokens["ann"])
    world.channel = (await http.data(accept, {"i": {"userId": world.ids["ann"]}}, world.tokens["bob"]))[
        "contactFriendAccept"
    ]["channelId"]
    for requester in ("cara", "dan"):
        await http.data(apply, by_search(requester, "ann"), world.tokens[requester])
    await http.data(apply, by_search("ann", "eve"), world.tokens["ann"])
    send = "mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id } } }"
    for n in range(3):
        args = {"channelId": world.channel, "clientMsgId": f"setup-{n}", "content": {"text": {"text": f"message {n}"}}}
        world.messages.append((await http.data(send, {"i": args}, world.tokens["ann"]))["messageSend"]["message"]["id"])
    group = "mutation($i: GroupGroupCreateInput!) { groupGroupCreate(input: $i) { group { id } } }"
    args = {"name": "Both doors", "memberIds": [world.ids["bob"]]}
    world.group = (await http.data(group, {"i": args}, world.tokens["ann"]))["groupGroupCreate"]["group"]["id"]
    return world


# -- samples --------------------------------------------------------------------------------

Args = Callable[[World], dict[str, Any] | None]


@dataclass(frozen=True)
class Sample:
    args: Args
    actor: str | None = "ann"  # whose token; None: anonymous
    expect: str = "OK"  # or the error code both doors must give


def no_args(_: World) -> None:
    return None


def text(body: str) -> dict[str, Any]:
    return {"text": {"text": body}}


# In call order: state evolves the same way in both worlds.
SAMPLES: dict[str, Sample] = {
    "system/health": Sample(no_args, actor=None),
    "account/user/register": Sample(lambda w: {"username": w.name("newcomer"), "password": PASSWORD}, actor=None),
    "account/auth/login": Sample(
        lambda w: {
            "username": w.name("ann"),
            "password": PASSWORD,
            "deviceId": "sampled",
            "deviceName": "S",
            "platform": "ios",
        },
        actor=None,
    ),
    "account/auth/refresh": Sample(lambda w: {"refreshToken": w.refresh}, actor=None),
    "account/auth/login_history": Sample(lambda w: {"limit": 3}),
    "account/user/detail": Sample(lambda w: {"userId": w.ids["bob"]}),
    "account/profile/get": Sample(no_args),
    "account/profile/update": Sample(lambda w: {"bio": "through both doors"}),
    "device/list": Sample(no_args),
    "device/update_name": Sample(lambda w: {"deviceId": "tablet", "deviceName": "Tab"}),
    "device/revoke": Sample(lambda w: {"deviceId": "spare"}),
    "device/kick": Sample(lambda w: {"deviceId": "tablet"}),
    "channel/list": Sample(lambda w: {"limit": 20}),
    "channel/info": Sample(lambda w: {"channelId": w.channel}),
    "channel/direct/get_or_create": Sample(lambda w: {"userId": w.ids["bob"]}),
    "channel/pin": Sample(lambda w: {"channelId": w.channel, "pinned": True}),
    "channel/mute": Sample(lambda w: {"channelId": w.channel, "muted": True}),
    "channel/hide": Sample(lambda w: {"channelId": w.channel, "hidden": False}),
    "message/send": Sample(lambda w: {"channelId": w.channel, "clientMsgId": "sample", "content": text("sampled")}),
    "message/history/get": Sample(lambda w: {"channelId": w.channel, "limit": 10}),
    "message/history/around": Sample(lambda w: {"messageId": w.messages[1], "limit": 2}),
    "message/revoke": Sample(lambda w: {"messageId": w.messages[2]}),
    "message/status/read": Sample(lambda w: {"channelId": w.channel, "pts": 1}),
    "message/status/read_batch": Sample(lambda w: {"items": [{"channelId": w.channel, "pts": 2}]}),
    "message/status/count": Sample(lambda w: {"channelIds": [w.channel]}),
    "message/status/read_list": Sample(lambda w: {"messageId": w.messages[0], "limit": 10}),
    "message/status/read_stats": Sample(lambda w: {"messageId": w.messages[0]}),
    "message/reaction/add": Sample(lambda w: {"messageId": w.messages[0], "emoji": "👍"}),
    "message/reaction/list": Sample(lambda w: {"messageId": w.messages[0], "limit": 10}),
    "message/reaction/stats": Sample(lambda w: {"messageIds": [w.messages[0]]}),
    "message/reaction/remove": Sample(lambda w: {"messageId": w.messages[0], "emoji": "👍"}),
    "message/pin": Sample(lambda w: {"messageId": w.messages[0], "pinned": True}),
    "message/pin/list": Sample(lambda w: {"channelId": w.channel}),
    "message/forward": Sample(
        lambda w: {"requestId": "fwd-1", "messageIds": [w.messages[0]], "channelIds": [w.channel]}
    ),
    "contact/friend/list": Sample(lambda w: {"limit": 20}),
    "contact/friend/pending": Sample(lambda w: {"direction": "INCOMING", "limit": 20}),
    "contact/friend/check": Sample(lambda w: {"userId": w.ids["bob"]}),
    "contact/friend/set_alias": Sample(lambda w: {"userId": w.ids["bob"], "alias": "Bobby"}),
    "contact/friend/accept": Sample(lambda w: {"userId": w.ids["cara"]}),
    "contact/friend/reject": Sample(lambda w: {"userId": w.ids["dan"]}),
    "contact/friend/recall": Sample(lambda w: {"userId": w.ids["eve"]}),
    "contact/friend/apply": Sample(
        lambda w: {
            "userId": w.ids["fay"],
            "source": "SEARCH",
            "searchProof": w.proofs["ann", "fay"],
            "message": "hello",
        }
    ),
    "contact/friend/remove": Sample(lambda w: {"userId": w.ids["cara"]}),
    "contact/blacklist/add": Sample(lambda w: {"userId": w.ids["dan"]}),
    "contact/blacklist/list": Sample(lambda w: {"limit": 20}),
    "contact/blacklist/check": Sample(lambda w: {"userId": w.ids["dan"]}),
    "contact/blacklist/remove": Sample(lambda w: {"userId": w.ids["dan"]}),
    "account/user/share_card": Sample(lambda w: {"userId": w.ids["ann"], "toUserId": w.ids["bob"]}),
    "account/privacy/get": Sample(no_args),
    "account/privacy/update": Sample(lambda w: {"friendApproval": True, "showReadReceipts": False}),
    "account/search/query": Sample(lambda w: {"query": w.name("bob"), "limit": 5}),
    "user/qrcode/get": Sample(no_args),
    "presence/query": Sample(lambda w: {"userId": w.ids["fay"]}),
    "presence/batch_query": Sample(lambda w: {"userIds": [w.ids["fay"], w.ids["zed"]]}),
    "presence/typing": Sample(lambda w: {"channelId": w.channel, "action": "TYPING"}),
    "group/group/info": Sample(lambda w: {"groupId": w.group}),
    "group/group/list": Sample(lambda w: {"limit": 10}),
    "group/member/list": Sample(lambda w: {"groupId": w.group, "limit": 10}),
    "group/settings/get": Sample(lambda w: {"groupId": w.group}),
    "group/settings/update": Sample(lambda w: {"groupId": w.group, "description": "same on both doors"}),
    "group/member/add": Sample(lambda w: {"groupId": w.group, "userIds": [w.ids["zed"]]}),
    "group/role/set": Sample(lambda w: {"groupId": w.group, "userId": w.ids["bob"], "role": "ADMIN"}),
    "group/member/mute": Sample(lambda w: {"groupId": w.group, "userId": w.ids["zed"], "durationSeconds": 600}),
    "group/member/unmute": Sample(lambda w: {"groupId": w.group, "userId": w.ids["zed"]}),
    "group/member/remove": Sample(lambda w: {"groupId": w.group, "userId": w.ids["zed"], "ban": False}),
    "group/settings/mute_all": Sample(lambda w: {"groupId": w.group, "enabled": False}),
    "group/approval/list": Sample(lambda w: {"groupId": w.group, "limit": 10}),
    "sync/get_updates": Sample(lambda w: {"since": 0, "limit": 100}),
    "sync/get_difference": Sample(lambda w: {"channelId": w.channel, "fromPts": 0, "limit": 100}),
    "sync/get_channel_pts": Sample(lambda w: {"channelId": w.channel}),
    "sync/batch_get_channel_pts": Sample(lambda w: {"changedSince": 0, "limit": 100}),
    "sync/submit": Sample(
        lambda w: {
            "items": [{"messageSend": {"channelId": w.channel, "clientMsgId": "queued", "content": text("queued")}}]
        }
    ),
    "sync/session_ready": Sample(no_args),
    "admin/user/create": Sample(
        lambda w: {"username": w.name("made"), "password": PASSWORD, "isAdmin": False}, actor="admin"
    ),
    "admin/user/list": Sample(lambda w: {"query": w.name("ann"), "limit": 10}, actor="admin"),
    "admin/user/friends": Sample(lambda w: {"userId": w.ids["ann"], "limit": 10}, actor="admin"),
    "admin/friendship/create": Sample(lambda w: {"userId": w.ids["bob"], "friendId": w.ids["zed"]}, actor="admin"),
    "admin/friendship/list": Sample(lambda w: {"userId": w.ids["bob"], "limit": 10}, actor="admin"),
    "admin/friendship/remove": Sample(lambda w: {"userId": w.ids["bob"], "friendId": w.ids["zed"]}, actor="admin"),
    "admin/group/info": Sample(lambda w: {"groupId": w.group}, actor="admin"),
    "admin/group/update": Sample(lambda w: {"groupId": w.group, "description": "set by an admin"}, actor="admin"),
    "admin/group/member/add": Sample(lambda w: {"groupId": w.group, "userIds": [w.ids["cara"]]}, actor="admin"),
    "admin/group/member/remove": Sample(lambda w: {"groupId": w.group, "userId": w.ids["cara"]}, actor="admin"),
    "admin/user/friends_of_ann_refused": Sample(lambda w: {"userId": w.ids["ann"], "limit": 10}, expect="FORBIDDEN"),
    "file/validate_token": Sample(lambda w: {"token": "not-a-token"}, expect="UNAUTHENTICATED"),
    "file/upload_callback": Sample(lambda w: {"fileId": "0" * 32}, expect="NOT_FOUND"),
    "file/get_url": Sample(lambda w: {"fileId": "0" * 32}, expect="NOT_FOUND"),
    "file/info": Sample(lambda w: {"fileId": "0" * 32}, expect="NOT_FOUND"),
    "sticker/package/list": Sample(lambda w: {"limit": 10}),
    "sticker/package/detail": Sample(lambda w: {"packageId": "999999"}, expect="NOT_FOUND"),
    "sticker/collection/list": Sample(no_args),
    "sticker/collection/add": Sample(lambda w: {"packageId": "999999"}, expect="NOT_FOUND"),
    "sticker/collection/remove": Sample(lambda w: {"packageId": "999999"}, expect="NOT_FOUND"),
    "admin/user/get": Sample(lambda w: {"userId": w.ids["ann"]}, actor="admin"),
    "admin/user/update": Sample(lambda w: {"userId": w.ids["fay"], "bio": "set by an admin"}, actor="admin"),
    "admin/user/set_role": Sample(lambda w: {"userId": w.ids["fay"], "isAdmin": False}, actor="admin"),
    "admin/device/list": Sample(lambda w: {"userId": w.ids["fay"]}, actor="admin"),
    "admin/device/revoke": Sample(lambda w: {"userId": w.ids["fay"], "deviceId": "phone"}, actor="admin"),
    "admin/user/logout_all": Sample(lambda w: {"userId": w.ids["fay"]}, actor="admin"),
    "admin/login_log/list": Sample(lambda w: {"userId": w.ids["fay"], "limit": 5}, actor="admin"),
    "admin/user/reset_password": Sample(lambda w: {"userId": w.ids["fay"]}, actor="admin"),
    "account/password/reset": Sample(
        lambda w: {"token": "not-a-token", "newPassword": PASSWORD}, actor=None, expect="UNAUTHENTICATED"
    ),
    "admin/user/disable": Sample(lambda w: {"userId": w.ids["fay"]}, actor="admin"),
    "admin/user/enable": Sample(lambda w: {"userId": w.ids["fay"]}, actor="admin"),
    "admin/message/list": Sample(lambda w: {"messageId": w.messages[0]}, actor="admin"),
    # The first two only: system lines hold raw message ids in their JSON content.
    "admin/message/export": Sample(lambda w: {"channelId": w.channel, "limit": 2}, actor="admin"),
    "admin/message/delete": Sample(lambda w: {"messageId": w.messages[1], "reason": "sampled"}, actor="admin"),
    "admin/broadcast/send": Sample(lambda w: {"text": "  "}, actor="admin", expect="BAD_USER_INPUT"),
    # A deleted account's username holds its raw id: deletion itself is checked in test_admin_e2e.py.
    "admin/user/delete": Sample(lambda w: {"userId": "999999999"}, actor="admin", expect="NOT_FOUND"),
    "admin/sticker/package/list": Sample(lambda w: {"limit": 10}, actor="admin"),
    "admin/file/storage_report": Sample(lambda w: {"limit": 10}, actor="admin"),
    "admin/file/sweep": Sample(no_args, actor="admin"),
    # Last: these end sessions.
    "device/kick_others": Sample(no_args, actor="eve"),
    "device/revoke_all": Sample(no_args, actor="zed"),
    "account/auth/logout": Sample(no_args, actor="ann_logout"),
}
# Extra calls of a route under another name (`route_refused` etc.): the route before the suffix.
ALIASES = {"admin/user/friends_of_ann_refused": "admin/user/friends"}

# Routes whose meaningful setup is not known here yet (or whose answer depends on state
# shared by both worlds, like process-wide counters): called with their required
# arguments missing (anonymously when they need none); both doors must agree.
ERROR_PATH_ONLY: list[str] = [
    "message/history/search",  # search indexing is eventually consistent
    "presence/subscribe",
    "presence/unsubscribe",
    "presence/stats",  # counts every connection of the process, both worlds included
    "group/group/create",
    "group/group/dismiss",
    "group/member/leave",
    "group/role/transfer_owner",
    "group/approval/handle",
    "group/qrcode/get",
    "group/qrcode/refresh",
    "group/join/qrcode",
    "user/qrcode/refresh",
    "user/qrcode/resolve",
    "account/search/by_qrcode",
    "admin/group/list",  # lists the groups of both worlds
    "admin/group/delete",
    "admin/audit/list",  # grows with every admin call of both worlds
    "admin/stats/overview",  # counts both worlds
    "file/request_upload_token",  # the upload URL carries a token of its world
    "file/upload",  # bytes: a GraphQL multipart request (tests/integration/test_files_doors.py)
    "admin/sticker/package/create",  # packs are shared by both worlds
    "admin/sticker/package/update",
    "admin/sticker/package/publish",
    "admin/sticker/package/delete",
]


def route_of(name: str) -> str:
    return ALIASES.get(name, name)


def error_path_sample(api: Api, route: str) -> Sample:
    op = api.registry.get(route)
    if op.input_type is not None:
        gql_type = api.schema._schema.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined]
        fields = gql_type.fields.values()  # type: ignore[union-attr]
        required = [f for f in fields if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined]
        if required:
            return Sample(lambda w: {}, expect="BAD_USER_INPUT")
    return Sample(no_args, actor=None, expect="UNAUTHENTICATED" if op.auth.value != "none" else "OK")


# -- the GraphQL door: a document selecting every field ------------------------------------


def _unwrap(type_: GraphQLOutputType) -> GraphQLOutputType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def selection(type_: GraphQLOutputType) -> str:
    """Every field. Fields of union members are aliased `Member__field`: two members may
    have a field of one name and different types, which one selection set cannot hold."""
    named = _unwrap(type_)
    if isinstance(named, GraphQLUnionType):
        members = " ".join(f"... on {m.name} {_fields(m, m.name)}" for m in named.types)
        return "{ __typename " + members + " }"
    if isinstance(named, GraphQLObjectType):
        return _fields(named, None)
    return ""


def _fields(type_: GraphQLObjectType, alias: str | None) -> str:
    parts = []
    for name, field_ in type_.fields.items():
        prefix = f"{alias}__{name}: " if alias else ""
        parts.append(f"{prefix}{name} {selection(field_.type)}".strip())
    return "{ " + " ".join(parts) + " }"


def document(schema: GraphQLSchema, kind: str, field_name: str, has_input: bool) -> str:
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    field_ = root.fields[field_name]
    header = f"($input: {field_.args['input'].type})" if has_input else ""
    call = f"{field_name}(input: $input)" if has_input else field_name
    return f"{kind} Op{header} {{ {call} {selection(field_.type)} }}"


def unalias(value: Any) -> Any:
    if isinstance(value, list):
        return [unalias(v) for v in value]
    if not isinstance(value, dict):
        return value
    prefix = f"{value['__typename']}__" if "__typename" in value else None
    return {(k[len(prefix) :] if prefix and k.startswith(prefix) else k): unalias(v) for k, v in value.items()}


# -- comparing ------------------------------------------------------------------------------

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
VOLATILE_KEYS = {
    "accessToken",
    "refreshToken",
    "token",
    "searchProof",
    "nextCursor",
    "cursor",
    "serverTime",
    "syncTime",
}
# Transport metadata: the native door has no HTTP User-Agent.
IGNORED_KEYS = {"userAgent"}


def is_id_key(key: str) -> bool:
    return key == "id" or key.endswith(("Id", "Ids", "By"))


def normalize(value: Any, suffix: str) -> Any:
    """What must be equal between two worlds. Ids are numbered by first appearance per
    position in the answer (ids of different tables may share a value in one world and
    not in the other); times, tokens and cursors are masked; the world's name suffix goes."""
    numbering: dict[str, dict[str, str]] = {}

    def walk(value: Any, path: str, key: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}", k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path, key) for v in value]
        if key in IGNORED_KEYS:
            return "<ignored>"
        if value is None:
            return None
        if key in VOLATILE_KEYS or key.endswith(("At", "Time")):
            return "<volatile>"
        if isinstance(value, str):
            if ISO_TIME.match(value):
                return "<time>"
            if is_id_key(key):
                ids = numbering.setdefault(path, {})
                return ids.setdefault(value, f"#{len(ids) + 1}")
            if value.startswith("privchat://"):
                return "<link>"
            return value.replace(suffix, "<world>")
        return value

    return walk(value, "", "")


@dataclass
class Outcome:
    code: str | None
    data: Any


class Doors:
    def __init__(self, server: ServerProcess, http: Http, schema: GraphQLSchema, api: Api) -> None:
        self.server = server
        self.http = http
        self.schema = schema
        self.api = api
        self.native: dict[tuple[str, str | None], NativeConnection] = {}

    async def graphql(self, route: str, args: dict[str, Any] | None, token: str | None) -> Outcome:
        op = self.api.registry.get(route)
        query = document(self.schema, op.kind.value, op.field_name, op.input_type is not None)
        body = await self.http.execute(query, {"input": args} if op.input_type is not None else None, token)
        if body.get("errors"):
            return Outcome(body["errors"][0].get("extensions", {}).get("code"), None)
        return Outcome(None, unalias(body["data"][op.field_name]))

    async def connection(self, world: World, actor: str | None) -> NativeConnection:
        key = (world.suffix, actor)
        conn = self.native.get(key)
        if conn is None or conn.is_closed:
            conn = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", self.server.tcp_port), ping_interval=None)
            if actor is not None:
                device = {"ann_logout": "leaving", "admin": "console"}.get(actor, "phone")
                await conn.connect(world.tokens[actor], device_id=device)
            self.native[key] = conn
        return conn

    async def gateway(self, world: World, route: str, args: dict[str, Any] | None, actor: str | None) -> Outcome:
        conn = await self.connection(world, actor)
        try:
            return Outcome(None, await conn.call(route, args))
        except RpcError as exc:
            return Outcome(exc.code, None)

    async def close(self) -> None:
        for conn in self.native.values():
            await conn.close()
        await self.http.client.aclose()


@pytest.fixture(scope="module")
def doors_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_env=SERVER_ENV)


@pytest.fixture
async def doors(doors_server: ServerProcess) -> AsyncIterator[Doors]:
    http = Http(doors_server)
    sdl = (await http.client.get("/graphql/schema.graphql")).text
    result = Doors(doors_server, http, build_schema(sdl), registry_api())
    yield result
    await result.close()


def test_every_route_has_a_sample() -> None:
    api = registry_api()
    routes = {op.route for op in api.registry if op.kind is not Kind.SUBSCRIPTION}
    covered = {route_of(name) for name in SAMPLES} | set(ERROR_PATH_ONLY)
    assert not routes - covered, f"add a sample to tests/e2e/test_both_doors.py for: {sorted(routes - covered)}"
    assert not covered - routes, f"samples for routes that no longer exist: {sorted(covered - routes)}"
    assert not set(ERROR_PATH_ONLY) & set(SAMPLES), "a route is either sampled or error-path only"


async def test_every_route_answers_the_same_through_both_doors(doors: Doors) -> None:
    tag = uuid.uuid4().hex[:5]
    graphql_world = await build_world(doors.http, f"g{tag}")
    native_world = await build_world(doors.http, f"n{tag}")
    # Both actors are live in both worlds (presence, held events): a GraphQL subscription
    # for the GraphQL world, the CONNECTed gateway connections for the native one.
    async with live_subscriptions(doors.server, graphql_world, ["ann", "admin"]):
        for actor in ("ann", "admin"):
            await doors.connection(native_world, actor)
        calls = [(name, SAMPLES[name]) for name in SAMPLES]
        calls += [(route, error_path_sample(doors.api, route)) for route in ERROR_PATH_ONLY]
        disagreements = []
        for name, sample in calls:
            route = route_of(name)
            token = graphql_world.tokens[sample.actor] if sample.actor else None
            via_graphql = await doors.graphql(route, sample.args(graphql_world), token)
            via_gateway = await doors.gateway(native_world, route, sample.args(native_world), sample.actor)
            if via_graphql.code != via_gateway.code:
                disagreements.append((name, "codes", via_graphql.code, via_gateway.code))
                continue
            if via_graphql.code != (None if sample.expect == "OK" else sample.expect):
                disagreements.append((name, "expected " + sample.expect, via_graphql.code, via_gateway.code))
                continue
            left = normalize(via_graphql.data, graphql_world.suffix)
            right = normalize(via_gateway.data, native_world.suffix)
            if left != right:
                disagreements.append((name, "data", left, right))
    assert not disagreements, "\n".join(map(repr, disagreements))


@contextlib.asynccontextmanager
async def live_subscriptions(server: ServerProcess, world: World, actors: list[str]) -> AsyncIterator[None]:
    sockets = []
    try:
        for actor in actors:
            ws = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            sockets.append(ws)
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {world.tokens[actor]}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription { events(input: {holdUntilReady: true}) { __typename } }"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        yield
    finally:
        for ws in sockets:
            await ws.close()
