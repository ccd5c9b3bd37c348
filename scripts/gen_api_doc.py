"""Write docs/API.md: every operation of the registry, for both doors.

    .venv/bin/python scripts/gen_api_doc.py          # rewrite docs/API.md
    .venv/bin/python scripts/gen_api_doc.py --check  # exit 1 if it is out of date (a test runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLNonNull, Undefined

from app.config import Settings
from app.main import build_api
from app.ops import Kind

DOC = Path(__file__).resolve().parents[1] / "docs" / "API.md"
HEADER = """# API: every operation

Generated from the operation registry by `scripts/gen_api_doc.py` (a test fails when it is
out of date). Each route is one GraphQL field (Query for reads, Mutation for writes,
Subscription for the event stream) and the same `route` over the native gateway, whose
RPC `args` are the GraphQL input's fields under the same camelCase names. The SDL is
served at `/graphql/schema.graphql` and printed by `privchat-server export-schema`.

Auth: `user` needs a device session's access token (`Authorization: Bearer ...`, or the
WebSocket `connection_init` payload `{"authorization": "Bearer ..."}`); `admin` needs an
administrator's token or the `X-Service-Key` header; `none` is open. Audience: who the
operation is for (`self`: only the caller's own records; `user`: other users as their
privacy allows; `member`, `group_admin`, `group_owner`: of the channel or group named;
docs/SECURITY.md), checked for every route by the authorization matrix test.

Over WebSocket (`/graphql`, subprotocol `graphql-transport-ws` or the legacy `graphql-ws`
of subscriptions-transport-ws) every query and mutation runs as well as the `events`
subscription. The items of `events` (and of `syncGetDifference` / `syncGetUpdates`) carry
their counters through two interfaces: `... on ChannelEvent { channelId pts }` and
`... on UserUpdateEvent { seq }` (docs/SYNC.md).

| route | GraphQL | kind | auth | audience | input fields | what |
|---|---|---|---|---|---|---|
"""


def render() -> str:
    api = build_api(Settings(dev=True))
    schema = api.schema._schema
    rows = []
    for op in sorted(api.registry, key=lambda o: o.route):
        fields = ""
        if op.input_type is not None:
            gql_input = schema.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined]
            assert isinstance(gql_input, GraphQLInputObjectType)
            fields = ", ".join(
                f"`{name}{'' if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined else '?'}`"
                for name, f in gql_input.fields.items()
            )
        what = " ".join((op.description or "").split()).replace("|", "\\|")
        kind = {Kind.QUERY: "query", Kind.MUTATION: "mutation", Kind.SUBSCRIPTION: "subscription"}[op.kind]
        audience = op.audience.value if op.audience is not None else "?"
        rows.append(f"| `{op.route}` | `{op.field_name}` | {kind} | {op.auth.value} | {audience} | {fields} | {what} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text() != text:
            print("docs/API.md is out of date: run .venv/bin/python scripts/gen_api_doc.py", file=sys.stderr)
            sys.exit(1)
        print("docs/API.md is up to date")
    else:
        DOC.write_text(text)
        print(f"wrote {DOC}")
