"""Groups under concurrency (meaningful on PostgreSQL, where transactions really overlap;
on SQLite they are serialised and the same assertions must hold): the member limit,
removals racing with sends, gapless pts."""

from __future__ import annotations

import asyncio

from app.channels import store as channel_store
from app.errors import AppError
from app.events import Listener
from app.runtime import Services
from tests.integration.test_groups import drain, settle
from tests.support import factories
from tests.support.factories import Account


async def make_group(services: Services, owner: Account, members: list[Account], **settings: object) -> int:
    result = await services.groups.create(owner.principal, name="Race", member_ids=[m.user_id for m in members])
    if settings:
        from app.groups.service import SettingsChanges

        await services.groups.update_settings(owner.principal, result.group.id, SettingsChanges(**settings))  # type: ignore[arg-type]
    return result.group.id


async def active_count(services: Services, group_id: int) -> tuple[int, int]:
    """(the channel's member_count, the number of active membership rows)"""
    async with services.db.read() as session:
        channel = await channel_store.get_channel(session, group_id)
        assert channel is not None
        return channel.member_count, await channel_store.count_active_members(session, group_id)


async def test_joins_racing_for_the_last_seat_get_exactly_one(services: Services) -> None:
    owner = await factories.account(services, "owner")
    group = await make_group(services, owner, [], max_members=2)
    code = (await services.groups.joins.qrcode(owner.principal, group)).payload
    for round_ in range(4):
        contenders = [await factories.account(services, f"c{round_}x{i}") for i in range(4)]
        results = await asyncio.gather(
            *(services.groups.joins.join_by_qrcode(c.principal, code) for c in contenders), return_exceptions=True
        )
        joined = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(joined) == 1, results
        assert all(isinstance(r, AppError) and r.details.get("reason") == "group_full" for r in refused), refused
        assert await active_count(services, group) == (2, 2)
        # make room for the next round: the winner leaves
        winner = contenders[results.index(joined[0])]
        await services.groups.members.leave(winner.principal, group)
        assert await active_count(services, group) == (1, 1)


async def test_concurrent_invitations_never_pass_the_limit(services: Services) -> None:
    owner = await factories.account(services, "owner")
    admins = [await factories.account(services, f"adm{i}") for i in range(4)]
    group = await make_group(services, owner, admins, max_members=8)
    from app.groups.permissions import Role

    for admin in admins:
        await services.groups.members.set_role(owner.principal, group, admin.user_id, Role.ADMIN)
    invitees = [[await factories.account(services, f"inv{a}x{i}") for i in range(2)] for a in range(5)]
    inviters = [owner, *admins]
    results = await asyncio.gather(
        *(
            services.groups.members.add(inviter.principal, group, [u.user_id for u in batch])
            for inviter, batch in zip(inviters, invitees, strict=True)
        ),
        return_exceptions=True,
    )
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    # 5 of 8 seats taken: the first batch of 2 to lock the group fits, no second one does
    assert len(succeeded) == 1
    count, active = await active_count(services, group)
    assert count == active == 7
    assert all(
        isinstance(r, AppError) and r.details.get("reason") == "group_full" for r in results if r not in succeeded
    )


async def test_a_removed_member_gets_nothing_that_follows_the_removal(services: Services) -> None:
    owner = await factories.account(services, "owner")
    talkers = [await factories.account(services, f"talk{i}") for i in range(3)]
    bob = await factories.account(services, "bob")
    group = await make_group(services, owner, [*talkers, bob])
    await settle()

    async def chatter(acct: Account, n: int) -> list[int]:
        pts = []
        for i in range(n):
            try:
                pts.append(await factories.send_text(services, acct, group, f"{acct.username}-{i}"))
            except AppError as exc:
                assert acct is bob and exc.code.value == "NOT_FOUND"
        return pts

    listener: Listener
    first: list[dict[str, object]] = []

    async def kick() -> None:
        # Once bob has had something live (a fact, not a delay): the race is then between
        # the removal and the messages still being sent.
        first.append(await listener.get())
        await services.groups.members.remove(owner.principal, group, bob.user_id)

    async with services.hub.listen(bob.principal) as listener:
        results = await asyncio.gather(*(chatter(t, 15) for t in talkers), chatter(bob, 15), kick())
        await settle()
        received = first + drain(listener)
    async with services.db.read() as session:
        member = await channel_store.get_member(session, group, bob.user_id)
    assert member is not None and member.left_pts is not None
    kick_pts = member.left_pts
    live = [item["pts"] for item in received if item["type"] == "channel_event"]
    assert live and max(live) < kick_pts
    assert all(p < kick_pts for p in results[3])  # bob's own messages were all ordered before his removal
    assert [item["kind"] for item in received if item["type"] == "user_update"][-1] == "channel_removed"
    assert sum(len(r) for r in results[:3]) == 45  # the others were never disturbed


async def test_pts_stay_gapless_under_concurrent_changes(services: Services) -> None:
    owner = await factories.account(services, "owner")
    members = [await factories.account(services, f"mem{i}") for i in range(4)]
    newcomers = [await factories.account(services, f"new{i}") for i in range(4)]
    group = await make_group(services, owner, members)
    from app.groups.permissions import Role

    await asyncio.gather(
        *(factories.send_text(services, m, group, "x") for m in (owner, members[0], members[2], members[3])),
        *(services.groups.members.add(owner.principal, group, [n.user_id]) for n in newcomers),
        services.groups.members.set_role(owner.principal, group, members[0].user_id, Role.ADMIN),
        services.groups.members.mute(owner.principal, group, members[1].user_id, seconds=60),
        services.groups.set_mute_all(owner.principal, group, enabled=False),
    )
    diff = await services.messaging.difference(owner.principal, group, from_pts=0, limit=500)
    assert [e.pts for e, _ in diff.events] == list(range(1, diff.pts + 1))
    assert await active_count(services, group) == (9, 9)
