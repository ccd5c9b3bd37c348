"""The send path: its cost in database round trips (a budget that fails when it grows), and
the one-statement send of PostgreSQL deciding exactly like the general path."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from app.channels import log_store
from app.channels.log import MessageDraft, Sent
from app.db import Transaction
from app.errors import AppError
from app.messaging.content import MessageType
from app.messaging.tables import Message
from app.messaging.views import MessageRecord
from app.privacy.settings import PrivacyChanges
from app.runtime import Services
from tests.support import backends, factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient
from tests.support.roundtrips import database_round_trips

SEND = """mutation($c: ID!, $id: String!, $r: ID, $m: [ID!], $all: Boolean) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: "hi"}},
                      replyToId: $r, mentions: $m, mentionAll: $all}) { message { id pts } } }"""

# Round trips from the authenticated request to the answer, authentication included.
# PostgreSQL: the session check and the one-statement send (the budget: 2, and 3
# with a reply or mentions). SQLite (local, no network): the statements of the general
# path, pinned so that any growth is noticed.
BUDGET = {
    "postgres": {"direct": 2, "group": 2, "reply": 2, "mentions": 2},
    "sqlite": {"direct": 16, "group": 14, "reply": 15, "mentions": 15},
}
_ids = itertools.count(1)


async def _send(gql: GraphQLClient, sender: Account, channel: int, **extra: object) -> dict[str, object]:
    variables = {"c": str(channel), "id": f"rt-{next(_ids)}", **extra}
    return (await gql.data(SEND, variables, token=sender.access_token))["messageSend"]["message"]


async def _cost(services: Services, gql: GraphQLClient, sender: Account, channel: int, **extra: object) -> int:
    await _send(gql, sender, channel, **extra)  # warm: prepared statements, caches
    with database_round_trips(services) as trips:
        await _send(gql, sender, channel, **extra)
    return trips.total


@pytest.mark.parametrize("case", ["direct", "group", "reply", "mentions"])
async def test_a_send_stays_within_its_round_trip_budget(services: Services, gql: GraphQLClient, case: str) -> None:
    ann = await factories.account(services)
    bob = await factories.account(services)
    if case == "direct":
        channel = await factories.direct_channel(services, ann, bob)
        extra: dict[str, object] = {}
    else:
        group = await services.groups.create(ann.principal, name="g", member_ids=[bob.user_id])
        channel = group.group.id
        extra = {}
        if case == "reply":
            first = await _send(gql, ann, channel)
            extra = {"r": first["id"]}
        if case == "mentions":
            extra = {"m": [str(bob.user_id)]}
    cost = await _cost(services, gql, ann, channel, **extra)
    budget = BUDGET["postgres" if backends.IS_POSTGRES else "sqlite"][case]
    assert cost <= budget, f"a {case} send took {cost} round trips (budget {budget})"


# --- both paths decide alike ---------------------------------------------------------------


@dataclass
class World:
    services: Services
    ann: Account  # the sender
    bob: Account  # ann's direct peer
    direct: int
    group: int  # ann is a plain member, cat the owner
    cat: Account


async def _world(services: Services) -> World:
    ann, bob, cat = [await factories.account(services) for _ in range(3)]
    direct = await factories.direct_channel(services, ann, bob)
    group = await services.groups.create(cat.principal, name="g", member_ids=[ann.user_id, bob.user_id])
    return World(services, ann, bob, direct, group.group.id, cat)


async def _block(w: World) -> int:
    await w.services.blacklist.block(w.bob.principal, user_id=w.ann.user_id)
    return w.direct


async def _blocking(w: World) -> int:
    await w.services.blacklist.block(w.ann.principal, user_id=w.bob.user_id)
    return w.direct


async def _strangers_refused(w: World) -> int:
    await w.services.privacy.update(w.bob.principal, PrivacyChanges(non_friends_may_message=False))
    return w.direct


async def _mute_all(w: World) -> int:
    await w.services.groups.set_mute_all(w.cat.principal, w.group, enabled=True)
    return w.group


async def _muted(w: World) -> int:
    await w.services.groups.members.mute(w.cat.principal, w.group, w.ann.user_id, seconds=600)
    return w.group


async def _removed(w: World) -> int:
    await w.services.groups.members.remove(w.cat.principal, w.group, w.ann.user_id)
    return w.group


async def _dismissed(w: World) -> int:
    await w.services.groups.dismiss(w.cat.principal, w.group)
    return w.group


async def _direct(w: World) -> int:
    return w.direct


async def _group(w: World) -> int:
    return w.group


Setup = Callable[[World], Awaitable[int]]
CASES: dict[str, tuple[Setup, dict[str, object]]] = {
    "direct ok": (_direct, {}),
    "group ok": (_group, {}),
    "blocked by the peer": (_block, {}),
    "blocking the peer": (_blocking, {}),
    "peer refuses strangers": (_strangers_refused, {}),
    "group muted for all": (_mute_all, {}),
    "member muted": (_muted, {}),
    "member removed": (_removed, {}),
    "group dismissed": (_dismissed, {}),
    "mention all as a member": (_group, {"mention_all": True}),
    "mention all in a direct chat": (_direct, {"mention_all": True}),
    "mention a non-member": (_direct, {"mentions": "cat"}),
    "mention a member": (_group, {"mentions": "bob"}),
    "reply to a foreign message": (_direct, {"reply": "group"}),
    "reply to a message of the channel": (_direct, {"reply": "direct"}),
    "unknown channel": (lambda w: _constant(10**12), {}),
}


async def _constant(value: int) -> int:
    return value


async def _outcome(w: World, channel: int, options: dict[str, object], *, general: bool) -> str:
    services = w.services
    reply_to = None
    if "reply" in options:
        target = w.group if options["reply"] == "group" else w.direct
        sender = w.cat if options["reply"] == "group" else w.ann
        reply_to = (
            await services.log.send(
                MessageDraft(
                    channel_id=target, sender_id=sender.user_id, client_msg_id=f"q-{next(_ids)}",
                    type=MessageType.TEXT.value, content={"text": "quoted"},
                )
            )
        ).message.id
    mentions = ()
    if "mentions" in options:
        mentions = (getattr(w, str(options["mentions"])).user_id,)
    draft = MessageDraft(
        channel_id=channel,
        sender_id=w.ann.user_id,
        client_msg_id=f"eq-{next(_ids)}",
        type=MessageType.TEXT.value,
        content={"text": "hello"},
        reply_to_id=reply_to,
        mentions=mentions,
        mention_all=bool(options.get("mention_all")),
    )

    async def nothing(tx: Transaction, recipients: list[int]) -> None:
        return None

    try:
        sent = await services.log.send(draft, extra_check=nothing if general else None)
    except AppError as exc:
        return f"{exc.code.value}: {exc.message} {exc.details}"
    message = sent.message
    return f"ok mentions={message.mentions} all={message.mention_all} reply={message.reply_to_id is not None}"


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="the one-statement send exists on PostgreSQL only")
@pytest.mark.parametrize("case", list(CASES))
async def test_the_one_statement_send_decides_like_the_general_path(services: Services, case: str) -> None:
    setup, options = CASES[case]
    world = await _world(services)
    channel = await setup(world)
    fast = await _outcome(world, channel, options, general=False)
    general = await _outcome(world, channel, options, general=True)
    assert fast == general


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="Redis is configured on the PostgreSQL backend only")
async def test_a_send_costs_one_redis_round_trip(
    services: Services, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Admission (rate limits) decides in-process; the one Redis round trip of a send is
    the after-commit publish that delivers it to every process (sent as a pipeline, which
    concurrent sends share)."""
    from redis.asyncio.client import Pipeline, Redis

    ann = await factories.account(services)
    bob = await factories.account(services)
    channel = await factories.direct_channel(services, ann, bob)
    await _send(gql, ann, channel)
    commands: list[str] = []
    plain, piped = Redis.execute_command, Pipeline.execute

    async def counted(self: Redis, *args: object, **kwargs: object) -> object:
        commands.append(str(args[0]))
        return await plain(self, *args, **kwargs)

    async def counted_pipeline(self: Pipeline, *args: object, **kwargs: object) -> object:
        commands.append("pipeline[" + ",".join(str(args[0]) for args, _ in self.command_stack) + "]")
        return await piped(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "execute_command", counted)
    monkeypatch.setattr(Pipeline, "execute", counted_pipeline)

    async def no_reconcile() -> None:  # the background reconcile is no part of a call
        return None

    monkeypatch.setattr(services.ratelimit, "reconcile", no_reconcile)
    await _send(gql, ann, channel)
    assert commands == ["pipeline[PUBLISH]"]


# --- group commit ----------------------------------------------------------------------------


def _draft(sender: Account, channel: int, client_id: str, **extra: object) -> MessageDraft:
    return MessageDraft(
        channel_id=channel, sender_id=sender.user_id, client_msg_id=client_id,
        type=MessageType.TEXT.value, content={"text": client_id}, **extra,  # type: ignore[arg-type]
    )


async def _settle(services: Services, drafts: list[MessageDraft]) -> list[object]:
    """Send concurrently (they share batches); each answer, or the error raised."""
    results: list[object] = []
    for outcome in await asyncio.gather(*(services.log.send(d) for d in drafts), return_exceptions=True):
        results.append(outcome.message if isinstance(outcome, Sent) else outcome)
    return results


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="group commit is the PostgreSQL fast path's")
async def test_concurrent_sends_share_one_statement_and_each_gets_its_own_answer(services: Services) -> None:
    w = await _world(services)
    quoted = (await services.log.send(_draft(w.ann, w.direct, "quoted"))).message
    drafts = [
        *[_draft(w.ann, w.direct, f"d{i}") for i in range(5)],
        _draft(w.bob, w.group, "g0"),
        _draft(w.ann, w.group, "g1", mentions=(w.bob.user_id,)),
        _draft(w.bob, w.direct, "reply", reply_to_id=quoted.id),
        _draft(w.cat, w.direct, "stranger"),  # not a member of ann and bob's chat
        _draft(w.ann, w.direct, "d0"),  # a retry of d0 in the same batch
    ]
    with database_round_trips(services) as trips:
        results = await _settle(services, drafts)
    assert [s for s in trips.statements if "privchat_send_message" in s] == [log_store.SEND_MESSAGES_SQL]
    *sent, refused, retry = results
    assert isinstance(refused, AppError) and refused.code.value == "NOT_FOUND"
    assert all(isinstance(m, MessageRecord) for m in sent), sent
    assert isinstance(retry, Message | MessageRecord) and retry.id == sent[0].id  # type: ignore[union-attr]
    direct = sorted(m.pts for m in sent if m.channel_id == w.direct)  # type: ignore[union-attr]
    assert direct == list(range(quoted.pts + 1, quoted.pts + 7))  # gapless, after the quoted one
    by_id = {m.client_msg_id: m for m in sent}  # type: ignore[union-attr]
    assert by_id["reply"].reply_to_id == quoted.id and by_id["g1"].mentions == [w.bob.user_id]
    # what was answered is what was stored
    history = await _history(services, w.ann, w.direct)
    assert [m.client_msg_id for m in history] == ["quoted", *[m.client_msg_id for m in sorted(
        (m for m in sent if m.channel_id == w.direct), key=lambda m: m.pts)]]  # type: ignore[union-attr]


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="group commit is the PostgreSQL fast path's")
async def test_a_send_that_breaks_its_batch_fails_alone(services: Services) -> None:
    w = await _world(services)
    bad = _draft(w.ann, w.direct, "x" * 65)  # longer than the column: the statement raises
    drafts = [_draft(w.ann, w.direct, "ok0"), bad, _draft(w.bob, w.direct, "ok1"), _draft(w.ann, w.group, "ok2")]
    results = await _settle(services, drafts)
    assert [r.client_msg_id for r in results if isinstance(r, MessageRecord)] == ["ok0", "ok1", "ok2"]
    assert not isinstance(results[1], MessageRecord)
    # nothing of it was stored; the channel's pts stayed gapless
    history = await _history(services, w.ann, w.direct)
    assert sorted(m.client_msg_id for m in history) == ["ok0", "ok1"]
    assert [m.pts for m in history] == list(range(history[0].pts, history[0].pts + 2))


async def _history(services: Services, reader: Account, channel: int) -> list[Message]:
    page = await services.messaging.history(
        reader.principal, channel, before_pts=None, after_pts=None, limit=50, newest_first=False
    )
    return list(page.messages)


# --- sync ------------------------------------------------------------------------------------

DIFFERENCE = """query($c: ID!, $from: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $from, limit: 50}) {
  pts isFinal events { __typename ... on MessageEvent { pts message { id replyTo { id } } } } } }"""


async def test_a_difference_stays_within_its_round_trip_budget(services: Services, gql: GraphQLClient) -> None:
    """The sync hot path: the session check and one statement (membership, head, events,
    their messages and the quoted originals, from one snapshot)."""
    ann = await factories.account(services)
    bob = await factories.account(services)
    channel = await factories.direct_channel(services, ann, bob)
    first = await _send(gql, ann, channel)
    await _send(gql, bob, channel, r=first["id"])
    await gql.data(DIFFERENCE, {"c": str(channel), "from": 0}, token=bob.access_token)  # warm
    with database_round_trips(services) as trips:
        data = (await gql.data(DIFFERENCE, {"c": str(channel), "from": 0}, token=bob.access_token))["syncGetDifference"]
    events = data["events"]
    assert [e["message"]["replyTo"] for e in events] == [None, {"id": first["id"]}] and data["isFinal"]
    budget = 2 if backends.IS_POSTGRES else 8  # SQLite: local, pinned so growth is noticed
    assert trips.total <= budget, trips.statements


async def test_user_updates_cost_two_round_trips_on_postgresql(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services)
    bob = await factories.account(services)
    await factories.direct_channel(services, ann, bob)
    query = "query { syncGetUpdates(input: {since: 0, limit: 50}) { seq hasMore updates { __typename } } }"
    await gql.data(query, {}, token=bob.access_token)  # warm
    with database_round_trips(services) as trips:
        data = (await gql.data(query, {}, token=bob.access_token))["syncGetUpdates"]
    assert data["seq"] == len(data["updates"]) and not data["hasMore"]
    budget = 2 if backends.IS_POSTGRES else 7  # SQLite: local, pinned so growth is noticed
    assert trips.total <= budget, trips.statements
