"""Users and sessions created through the services, never through raw SQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from app.context import RequestContext
from app.principal import Principal
from app.runtime import Services

PASSWORD = "correct-horse-9"
_counter = itertools.count(1)


@dataclass
class Account:
    user_id: int
    username: str
    access_token: str
    refresh_token: str
    principal: Principal
    device_id: str

    def ctx(self, services: Services, transport: str = "test") -> RequestContext:
        return RequestContext(services=services, transport=transport, token=self.access_token)


async def register(
    services: Services, username: str | None = None, *, display_name: str | None = None
) -> int:
    username = username or f"user{next(_counter)}"
    user = await services.accounts.register(username=username, password=PASSWORD, display_name=display_name)
    assert user.id is not None
    return user.id


async def login(
    services: Services,
    username: str,
    *,
    device_id: str = "dev-1",
    platform: str = "android",
    ip: str | None = None,
) -> Account:
    result = await services.accounts.login(
        username=username,
        password=PASSWORD,
        device_id=device_id,
        device_name=f"{username}'s {device_id}",
        platform=platform,
        ip=ip,
        user_agent="pytest",
    )
    tokens = result.tokens
    principal = await services.devices.authenticate(tokens.access_token)
    assert result.user.id is not None
    return Account(
        user_id=result.user.id,
        username=username,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        principal=principal,
        device_id=device_id,
    )


async def account(services: Services, username: str | None = None, *, device_id: str = "dev-1") -> Account:
    username = username or f"user{next(_counter)}"
    await register(services, username)
    return await login(services, username, device_id=device_id)


async def direct_channel(services: Services, a: Account, b: Account) -> int:
    entry = await services.channels.open_direct(a.principal, b.user_id)
    assert entry.channel.id is not None
    return entry.channel.id


async def send_text(services: Services, sender: Account, channel_id: int, text: str, client_msg_id: str | None = None) -> int:
    from app.messaging.content import MessageType
    from app.messaging.service import SendRequest

    message = await services.messaging.send(
        sender.principal,
        SendRequest(channel_id=channel_id, client_msg_id=client_msg_id or f"c-{next(_counter)}",
                    type=MessageType.TEXT, content={"text": text}),
    )
    return message.pts


async def group_channel(services: Services, owner: Account, members: list[Account], admins: list[Account] = ()) -> int:  # type: ignore[assignment]
    """A group channel built from the channel store (the groups service builds the same rows)."""
    from app.channels import store as channel_store
    from app.channels.tables import Channel, ChannelMember
    from app.db.types import now_ms

    now = now_ms()
    async with services.db.transaction() as tx:
        channel = await channel_store.insert_channel(
            tx.session,
            Channel(kind="group", title="group", owner_id=owner.user_id, member_count=1 + len(members),
                    created_at=now, last_event_at=now),
        )
        assert channel.id is not None
        admin_ids = {a.user_id for a in admins}
        for acct in [owner, *members]:
            role = "owner" if acct is owner else ("admin" if acct.user_id in admin_ids else "member")
            await channel_store.add_member(
                tx.session, ChannelMember(channel_id=channel.id, user_id=acct.user_id, role=role, joined_at=now)
            )
        return channel.id
