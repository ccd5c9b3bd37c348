"""GraphQL documents and helpers for the social-graph tests (friends, blacklist, privacy)."""

from __future__ import annotations

from typing import Any

from app.runtime import Services
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient, GraphQLResult

REQUEST_FIELDS = "id status direction message source user { id username }"
FRIEND_FIELDS = "user { id username } alias source channelId"
APPLY = f"""mutation($u: ID!, $s: FriendApplySource!, $m: String, $q: String, $p: String) {{
  contactFriendApply(input: {{userId: $u, source: $s, message: $m, qrToken: $q, searchProof: $p}}) {{
    outcome channelId request {{ {REQUEST_FIELDS} }} friend {{ {FRIEND_FIELDS} }}
  }}
}}"""
ACCEPT = (
    f"mutation($u: ID!) {{ contactFriendAccept(input: {{userId: $u}}) {{ channelId friend {{ {FRIEND_FIELDS} }} }} }}"
)
REJECT = f"mutation($u: ID!) {{ contactFriendReject(input: {{userId: $u}}) {{ request {{ {REQUEST_FIELDS} }} }} }}"
RECALL = f"mutation($u: ID!) {{ contactFriendRecall(input: {{userId: $u}}) {{ request {{ {REQUEST_FIELDS} }} }} }}"
REMOVE = "mutation($u: ID!) { contactFriendRemove(input: {userId: $u}) { ok } }"
FIND = """query($q: String!) { accountSearchQuery(input: {query: $q, limit: 50}) {
  results { user { id username } matchedBy searchProof }
} }"""
LIST = f"""query($l: Int!, $c: String) {{
  contactFriendList(input: {{limit: $l, cursor: $c}}) {{ friends {{ {FRIEND_FIELDS} since }} nextCursor }}
}}"""
PENDING = f"""query($d: FriendRequestDirection!, $l: Int!, $c: String) {{
  contactFriendPending(input: {{direction: $d, limit: $l, cursor: $c}}) {{ requests {{ {REQUEST_FIELDS} }} nextCursor }}
}}"""
CHECK = f"""query($u: ID!) {{ contactFriendCheck(input: {{userId: $u}}) {{
  isFriend blocked friend {{ {FRIEND_FIELDS} }} incomingRequest {{ {REQUEST_FIELDS} }} outgoingRequest {{ {REQUEST_FIELDS} }}
}} }}"""
SET_ALIAS = f"mutation($u: ID!, $a: String) {{ contactFriendSetAlias(input: {{userId: $u, alias: $a}}) {{ friend {{ {FRIEND_FIELDS} }} }} }}"
BLOCK = "mutation($u: ID!) { contactBlacklistAdd(input: {userId: $u}) { entry { user { id username } blockedAt } } }"
UNBLOCK = "mutation($u: ID!) { contactBlacklistRemove(input: {userId: $u}) { ok } }"
BLACKLIST = "query($l: Int!, $c: String) { contactBlacklistList(input: {limit: $l, cursor: $c}) { entries { user { id username } } nextCursor } }"
BLOCKED = "query($u: ID!) { contactBlacklistCheck(input: {userId: $u}) { blocked } }"
PRIVACY_UPDATE = """mutation($i: AccountPrivacyUpdateInput!) { accountPrivacyUpdate(input: $i) { settings {
  findByUsername findByPhone findByEmail findByQrcode addFriend friendApproval addToGroup nonFriendsMayMessage
  showOnline showReadReceipts
} } }"""
UPDATES = """query($s: Int!) { syncGetUpdates(input: {since: $s, limit: 100}) { seq hasMore updates {
  __typename
  ... on FriendRequestReceivedEvent { seq requestId fromUserId toUserId requestMessage source user { id username displayName } }
  ... on FriendRequestAcceptedEvent { seq requestId fromUserId toUserId channelId user { id username } }
  ... on FriendRequestRejectedEvent { seq requestId fromUserId toUserId }
  ... on FriendRequestRecalledEvent { seq requestId fromUserId toUserId }
  ... on FriendAddedEvent { seq userId channelId source requestId user { id username } }
  ... on FriendRemovedEvent { seq userId removedBy }
  ... on FriendAliasChangedEvent { seq userId alias }
  ... on BlacklistChangedEvent { seq userId blocked }
  ... on CardSharedEvent { seq cardId fromUser { id username } user { id username } }
  ... on PrivacyChangedEvent { seq settings { findByUsername addFriend } }
  ... on ChannelAddedEvent { seq channelId }
} } }"""
SOCIAL_EVENTS = {
    "FriendRequestReceivedEvent",
    "FriendRequestAcceptedEvent",
    "FriendRequestRejectedEvent",
    "FriendRequestRecalledEvent",
    "FriendAddedEvent",
    "FriendRemovedEvent",
    "FriendAliasChangedEvent",
    "BlacklistChangedEvent",
    "CardSharedEvent",
    "PrivacyChangedEvent",
}


def uid(account: Account) -> str:
    return str(account.user_id)


async def search_proof(gql: GraphQLClient, requester: Account, target: Account, query: str | None = None) -> str | None:
    """The proof that `requester`'s search (for the target's username unless `query`) found
    `target`; None when the search does not return the target."""
    q = query if query is not None else target.username
    data = await gql.data(FIND, {"q": q}, token=requester.access_token)
    found = [r["searchProof"] for r in data["accountSearchQuery"]["results"] if r["user"]["id"] == uid(target)]
    return str(found[0]) if found else None


async def found_proof(gql: GraphQLClient, requester: Account, target: Account, query: str | None = None) -> str:
    """As `search_proof`, for a search that must find the target."""
    proof = await search_proof(gql, requester, target, query)
    assert proof is not None, f"{requester.username} searched {query or target.username!r}, {target.username} not found"
    return proof


async def searched(services: Services, requester: Account, target: Account) -> str:
    """As `found_proof`, through the service (for tests that call services directly)."""
    page = await services.search.query(requester.principal, text=target.username, cursor=None, limit=50)
    proofs = [hit.proof for hit in page.items if hit.user.id == target.user_id]
    assert proofs, f"{requester.username} searched {target.username!r} and did not find them"
    return proofs[0]


async def apply(
    gql: GraphQLClient,
    requester: Account,
    target: Account,
    *,
    source: str = "SEARCH",
    message: str | None = None,
    qr_token: str | None = None,
    proof: str | None = None,
    search_first: bool = True,
) -> GraphQLResult:
    """Apply as a client does: with source SEARCH (or PHONE) and no `proof` given, search for
    the target by username first and carry the result's proof if it found the target
    (`search_first=False`: send no proof)."""
    if source in ("SEARCH", "PHONE") and proof is None and search_first:
        proof = await search_proof(gql, requester, target)
    variables = {"u": uid(target), "s": source, "m": message, "q": qr_token, "p": proof}
    return await gql.execute(APPLY, variables, token=requester.access_token)


async def befriend(gql: GraphQLClient, a: Account, b: Account) -> str:
    """a asks, b accepts; the direct channel id."""
    assert (await apply(gql, a, b)).data["contactFriendApply"]["outcome"] == "PENDING"
    accepted = (await gql.data(ACCEPT, {"u": uid(a)}, token=b.access_token))["contactFriendAccept"]
    return str(accepted["channelId"])


async def call(gql: GraphQLClient, document: str, actor: Account, **variables: Any) -> GraphQLResult:
    return await gql.execute(document, variables, token=actor.access_token)


async def friend_ids(gql: GraphQLClient, account: Account) -> list[str]:
    data = await gql.data(LIST, {"l": 100}, token=account.access_token)
    return [f["user"]["id"] for f in data["contactFriendList"]["friends"]]


async def social_updates(gql: GraphQLClient, account: Account, since: int = 0) -> list[dict[str, Any]]:
    """The account's social user updates after `since` (channel updates left out)."""
    data = (await gql.data(UPDATES, {"s": since}, token=account.access_token))["syncGetUpdates"]
    return [u for u in data["updates"] if u["__typename"] in SOCIAL_EVENTS]


async def set_privacy(gql: GraphQLClient, account: Account, **settings: Any) -> dict[str, Any]:
    data = await gql.data(PRIVACY_UPDATE, {"i": settings}, token=account.access_token)
    return data["accountPrivacyUpdate"]["settings"]
