"""The running service: settings, database, bus, limiter, metrics and the domain services."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from app.accounts.service import AccountService
from app.admin.audit import AuditLog
from app.admin.messages import AdminMessages
from app.admin.notices import SystemNotices
from app.admin.service import AdminService
from app.admin.stats import AdminStats
from app.admin.users import AdminUsers
from app.bus import EventBus
from app.channels.log import ChannelLog, FastPathRules
from app.channels.service import ChannelService
from app.config import Settings
from app.contacts.blacklist import BlacklistService
from app.contacts.cards import CardService
from app.contacts.policy import CANNOT_MESSAGE, SocialPolicy
from app.contacts.profiles import ProfileAnnouncer
from app.contacts.search import UserSearch
from app.contacts.search_proofs import SearchProofs
from app.contacts.service import ContactService
from app.db import Database
from app.db.migrate import upgrade_to_head
from app.devices.service import DeviceService
from app.events import EventHub
from app.files.attachments import Attachments
from app.files.lifecycle import FileLifecycle
from app.files.service import FileService
from app.files.tokens import FileTokens
from app.groups.permissions import REFUSALS, Action, roles_that_may
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
from app.privacy.settings import DEFAULTS as PRIVACY_DEFAULTS
from app.qrcodes.service import QrCodeService
from app.ratelimit import RateLimiter
from app.security import PasswordHashing, TokenService, resolve_jwt_secret
from app.stickers.service import StickerService
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
    log: ChannelLog
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
    audit: AuditLog
    admin_users: AdminUsers
    admin_stats: AdminStats
    admin_messages: AdminMessages
    notices: SystemNotices
    files: FileService
    file_lifecycle: FileLifecycle
    stickers: StickerService

    def admin_key_matches(self, key: str | None) -> bool:
        configured = self.settings.security.service_key
        if key is None or configured is None:
            return False
        # Digests first: compare_digest on raw keys would leak the configured key's length.
        given = hashlib.sha256(key.encode()).digest()
        expected = hashlib.sha256(configured.get_secret_value().encode()).digest()
        return hmac.compare_digest(given, expected)


def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    security = settings.security
    db = Database(settings.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    bus = EventBus(settings.redis_url or "memory://", prefix=settings.cache.key_prefix)
    metrics = Metrics()
    ratelimit = RateLimiter(settings.redis_url, key_prefix=settings.cache.key_prefix)
    secret = resolve_jwt_secret(settings)
    tokens = TokenService(
        secret=secret,
        access_ttl_seconds=security.access_token_ttl_seconds,
        refresh_ttl_seconds=security.refresh_token_ttl_seconds,
    )
    passwords = PasswordHashing(
        time_cost=security.password_hash_time_cost, memory_kib=security.password_hash_memory_kib
    )
    hub = EventHub(bus=bus, queue_size=settings.messaging.event_queue_size, metrics=metrics)
    metrics.watch_pool(db.pool_status)
    db.batch_observer = metrics.batch_sent
    updates = UserUpdates(db=db, hub=hub)
    devices = DeviceService(db=db, updates=updates, tokens=tokens)
    accounts = AccountService(
        settings=settings,
        db=db,
        passwords=passwords,
        devices=devices,
        ratelimit=ratelimit,
        announcer=ProfileAnnouncer(updates=updates),
    )
    search_proofs = SearchProofs(secret)
    policy = SocialPolicy(search_proofs=search_proofs)
    group_rules = GroupSendRules()
    attachments = Attachments()
    log = ChannelLog(
        files=attachments,
        db=db,
        hub=hub,
        direct_policy=policy,
        group_rules=group_rules,
        fast_path=FastPathRules(
            speak_during_mute_all=roles_that_may(Action.SPEAK_DURING_MUTE_ALL),
            mention_all=roles_that_may(Action.MENTION_ALL),
            non_friends_may_message=PRIVACY_DEFAULTS.non_friends_may_message,
            cannot_message=CANNOT_MESSAGE,
            muted_all=REFUSALS[Action.SPEAK_DURING_MUTE_ALL],
        ),
    )
    channels = ChannelService(db=db, updates=updates, policy=policy)
    contacts = ContactService(db=db, updates=updates, channels=channels, policy=policy)
    cards = CardService(db=db, updates=updates, policy=policy)
    messaging = MessagingService(
        settings=settings,
        db=db,
        log=log,
        metrics=metrics,
        group_rules=group_rules,
        cards=cards,
        attachments=attachments,
    )
    files = FileService(settings=settings, db=db, tokens=FileTokens(secret))
    presence = PresenceService(
        db=db,
        hub=hub,
        policy=policy,
        log=log,
        state=presence_state(settings.redis_url, key_prefix=settings.cache.key_prefix),
    )
    # Every live stream (GraphQL `events`, native sessions) opens through the hub: presence follows it.
    hub.on_connect, hub.on_disconnect = presence.device_connected, presence.device_disconnected
    file_lifecycle = FileLifecycle(files)
    notices = SystemNotices(settings=settings, db=db, log=log, channels=channels, ratelimit=ratelimit)
    accounts.after_register = notices.welcome
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
        log=log,
        groups=GroupService(db=db, log=log, updates=updates, policy=policy),
        messaging=messaging,
        reactions=ReactionService(settings=settings, db=db, log=log),
        pins=PinService(settings=settings, db=db, log=log, rules=group_rules),
        forwarding=ForwardService(db=db, log=log, metrics=metrics, source_rules=group_rules, cards=cards),
        receipts=ReadService(db=db, updates=updates, hub=hub, policy=policy, log=log, rules=group_rules),
        message_search=MessageSearch(db=db, log=log),
        presence=presence,
        policy=policy,
        privacy=PrivacyService(db=db, updates=updates),
        contacts=contacts,
        blacklist=BlacklistService(db=db, updates=updates),
        cards=cards,
        search=UserSearch(db=db, policy=policy, proofs=search_proofs),
        qrcodes=QrCodeService(db=db, policy=policy),
        admin=AdminService(db=db, accounts=accounts, contacts=contacts),
        audit=AuditLog(db=db, metrics=metrics),
        admin_users=AdminUsers(
            settings=settings,
            db=db,
            accounts=accounts,
            devices=devices,
            messaging=messaging,
            passwords=passwords,
        ),
        admin_stats=AdminStats(db=db, metrics=metrics, presence=presence, files=file_lifecycle),
        notices=notices,
        admin_messages=AdminMessages(db=db, messaging=messaging),
        files=files,
        file_lifecycle=file_lifecycle,
        stickers=StickerService(db=db, updates=updates),
    )


async def start(services: Services) -> None:
    if services.settings.database.auto_migrate:
        await upgrade_to_head(services.db)
    await services.db.start()
    await services.bus.connect()
    await services.ratelimit.start()
    await services.hub.start()
    await services.presence.start()
    await services.files.start()
    await services.file_lifecycle.start()
    log.info(
        "runtime started (database=%s, bus=%s)",
        "sqlite" if services.db.is_sqlite else "postgresql",
        services.bus.backend_name,
    )


async def stop(services: Services) -> None:
    await services.notices.close()
    await services.file_lifecycle.stop()
    await services.files.close()
    await services.presence.stop()
    await services.hub.stop()
    await services.ratelimit.stop()
    await services.bus.disconnect()
    await services.log.close()
    await services.devices.close()
    await services.db.dispose()

