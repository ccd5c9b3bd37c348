"""The running service: settings, database, bus, limiter, metrics and the domain services."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from app.accounts.service import AccountService
from app.admin.service import AdminService
from app.bus import EventBus
from app.channels.service import ChannelService
from app.config import Settings
from app.contacts.blacklist import BlacklistService
from app.contacts.cards import CardService
from app.contacts.policy import SocialPolicy
from app.contacts.search import UserSearch
from app.contacts.service import ContactService
from app.db import Database
from app.db.migrate import upgrade_to_head
from app.devices.service import DeviceService
from app.events import EventHub
from app.groups.sending import GroupSendRules
from app.groups.service import GroupService
from app.messaging.forward import ForwardService
from app.messaging.pins import PinService
from app.messaging.reactions import ReactionService
from app.messaging.receipts import ReadService
from app.messaging.search import MessageSearch
from app.messaging.service import MessagingService
from app.metrics import Metrics
from app.presence.service import PresenceService, presence_state
from app.privacy.service import PrivacyService
from app.qrcodes.service import QrCodeService
from app.ratelimit import RateLimiter
from app.security import PasswordHashing, TokenService, resolve_jwt_secret
from app.sync.updates import UserUpdates

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What resolvers reach through `ctx.services`. Collaborators are handed in, never global."""

    settings: Settings
    db: Database
    bus: EventBus
    metrics: Metrics
    ratelimit: RateLimiter
    tokens: TokenService
    accounts: AccountService
    devices: DeviceService
    hub: EventHub
    updates: UserUpdates
    channels: ChannelService
    groups: GroupService
    messaging: MessagingService
    reactions: ReactionService
    pins: PinService
    forwarding: ForwardService
    receipts: ReadService
    message_search: MessageSearch
    presence: PresenceService
    policy: SocialPolicy
    privacy: PrivacyService
    contacts: ContactService
    blacklist: BlacklistService
    cards: CardService
    search: UserSearch
    qrcodes: QrCodeService
    admin: AdminService

    def admin_key_matches(self, key: str | None) -> bool:
        configured = self.settings.security.service_key
        if key is None or configured is None:
            return False
        return hmac.compare_digest(key.encode(), configured.get_secret_value().encode())


def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    security = settings.security
    db = Database(settings.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    bus = EventBus(settings.redis_url or "memory://", prefix=settings.cache.key_prefix)
    metrics = Metrics()
    ratelimit = RateLimiter(settings.redis_url, key_prefix=settings.cache.key_prefix)
    tokens = TokenService(
        secret=resolve_jwt_secret(settings),
        access_ttl_seconds=security.access_token_ttl_seconds,
        refresh_ttl_seconds=security.refresh_token_ttl_seconds,
    )
    passwords = PasswordHashing(
        time_cost=security.password_hash_time_cost, memory_kib=security.password_hash_memory_kib
    )
    hub = EventHub(bus=bus, queue_size=settings.messaging.event_queue_size)
    updates = UserUpdates(db=db, hub=hub)
    devices = DeviceService(db=db, updates=updates, tokens=tokens)
    accounts = AccountService(settings=settings, db=db, passwords=passwords, devices=devices, ratelimit=ratelimit)
    policy = SocialPolicy()
    channels = ChannelService(db=db, updates=updates, policy=policy)
    contacts = ContactService(db=db, updates=updates, channels=channels, policy=policy)
    cards = CardService(db=db, updates=updates, policy=policy)
    messaging = MessagingService(
        settings=settings,
        db=db,
        hub=hub,
        policy=policy,
        metrics=metrics,
        group_rules=GroupSendRules(),
        cards=cards,
    )
    presence = PresenceService(
        db=db,
        hub=hub,
        policy=policy,
        messaging=messaging,
        state=presence_state(settings.redis_url, key_prefix=settings.cache.key_prefix),
    )
    # Every live stream (GraphQL `events`, native sessions) opens through the hub: presence follows it.
    hub.on_connect, hub.on_disconnect = presence.device_connected, presence.device_disconnected
    return Services(
        settings=settings,
        db=db,
        bus=bus,
        metrics=metrics,
        ratelimit=ratelimit,
        tokens=tokens,
        accounts=accounts,
        devices=devices,
        hub=hub,
        updates=updates,
        channels=channels,
        groups=GroupService(db=db, messaging=messaging, updates=updates, policy=policy),
        messaging=messaging,
        reactions=ReactionService(settings=settings, db=db, messaging=messaging),
        pins=PinService(settings=settings, db=db, messaging=messaging),
        forwarding=ForwardService(db=db, messaging=messaging, source_rules=GroupSendRules()),
        receipts=ReadService(db=db, updates=updates, hub=hub, policy=policy, messaging=messaging),
        message_search=MessageSearch(db=db, messaging=messaging),
        presence=presence,
        policy=policy,
        privacy=PrivacyService(db=db, updates=updates),
        contacts=contacts,
        blacklist=BlacklistService(db=db, updates=updates),
        cards=cards,
        search=UserSearch(db=db, policy=policy),
        qrcodes=QrCodeService(db=db, policy=policy),
        admin=AdminService(db=db, accounts=accounts, contacts=contacts),
    )


async def start(services: Services) -> None:
    if services.settings.database.auto_migrate:
        await upgrade_to_head(services.db)
    await services.bus.connect()
    await services.hub.start()
    await services.presence.start()
    log.info(
        "runtime started (database=%s, bus=%s)",
        "sqlite" if services.db.is_sqlite else "postgresql",
        services.bus.backend_name,
    )


async def stop(services: Services) -> None:
    await services.presence.stop()
    await services.hub.stop()
    await services.bus.disconnect()
    await services.db.dispose()

