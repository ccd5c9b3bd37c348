"""Settings: defaults < TOML file < .env < environment < CLI flags, validated by pydantic.

Every section forbids unknown keys so a typo is reported with its key path
instead of being silently ignored. Every field carries a description: it is the
comment in `privchat-server generate-config` and the text of docs/CONFIGURATION.md.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import limits
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

# A JWT secret containing this marker is the documented placeholder: refused outside --dev.
DEFAULT_DEV_SECRET_MARKER = "change-me"
JWT_SECRET_PLACEHOLDER = "change-me-to-a-random-string-of-at-least-32-bytes"

# Secrets are read from the environment only (a config file is often committed or shared).
SECRET_ENV_VARS: dict[tuple[str, str], str] = {
    ("database", "url"): "DATABASE_URL",
    ("cache", "redis_url"): "REDIS_URL",
    ("security", "jwt_secret"): "PRIVCHAT_JWT_SECRET",
    ("security", "service_key"): "PRIVCHAT_SERVICE_KEY",
}

# Short spellings every deploy script uses, read like PRIVCHAT_LOGGING__LEVEL (which wins when both are set).
ALIAS_ENV_VARS: dict[tuple[str, str], str] = {
    ("logging", "level"): "PRIVCHAT_LOG_LEVEL",
    ("logging", "format"): "PRIVCHAT_LOG_FORMAT",
}

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}

# messaging.reaction_emoji by default: the usual quick reactions.
DEFAULT_REACTION_EMOJI = ("👍", "👎", "❤️", "😂", "😮", "😢", "😡", "🎉", "🔥", "🙏", "👏", "😍", "🤔", "👀", "💯", "✅")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ListenerSettings(Section):
    protocol: Literal["tcp", "quic", "websocket"] = Field(
        description="tcp: binary frames over TCP; quic: the same frames on QUIC streams (UDP, ALPN privchat); "
        "websocket: binary WebSocket frames at `path`"
    )
    host: str | None = Field(default=None, description="address to bind; default: the top-level `host`")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="default: gateway.tcp_port (tcp), gateway.quic_port (quic), http.ws_port (websocket)",
    )
    path: str = Field(default="/gate", pattern=r"^/", description="URL path (websocket listeners only)")


def _default_listeners() -> list[ListenerSettings]:
    return [
        ListenerSettings(protocol="tcp"),
        ListenerSettings(protocol="quic"),
        ListenerSettings(protocol="websocket", path="/gate"),
    ]


class GatewaySettings(Section):
    tcp_port: int = Field(default=9001, ge=1, le=65535, description="default port of tcp listeners (--tcp-port)")
    quic_port: int = Field(
        default=9001, ge=1, le=65535, description="default (UDP) port of quic listeners (--quic-port)"
    )
    listeners: list[ListenerSettings] = Field(
        default_factory=_default_listeners,
        description="native gateway listeners, one [[gateway.listeners]] table each",
    )
    max_frame_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="largest accepted frame, in bytes"
    )
    max_inflight_rpcs: int = Field(
        default=64, ge=1, le=10_000, description="RPCs a connection may have running at once"
    )
    auth_deadline_seconds: float = Field(
        default=10.0, gt=0, le=300, description="a connection must send CONNECT within this time"
    )
    idle_timeout_seconds: float = Field(
        default=90.0, gt=0, le=3600, description="a connection silent for this long (no PING) is closed"
    )
    quic_certificate: Path | None = Field(
        default=None, description="PEM certificate (chain) for QUIC, which requires TLS 1.3"
    )
    quic_private_key: Path | None = Field(default=None, description="PEM private key of quic_certificate")


class HttpSettings(Section):
    port: int = Field(
        default=9083, ge=1, le=65535, description="service port: files, admin REST, /metrics, /healthz, /readyz"
    )
    ws_port: int = Field(
        default=9080, ge=1, le=65535, description="client port: /graphql over HTTP and WebSocket, /gate, web client"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='origins allowed by CORS, e.g. ["https://chat.example.com"]'
    )
    graphiql: bool = Field(default=True, description="serve GraphiQL to browsers at /graphql")
    web_client: bool = Field(default=True, description="serve the built-in web client at /app/")
    introspection: bool = Field(
        default=True,
        description="allow GraphQL introspection; off also hides /graphql/schema.graphql, GraphiQL and "
        "field-name suggestions in errors",
    )
    metrics_require_service_key: bool = Field(
        default=False,
        description="/metrics answers only with the service key (X-Service-Key or Authorization: Bearer)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest GraphQL request body / WebSocket message, in bytes"
    )
    max_query_depth: int = Field(default=12, ge=1, le=100, description="deepest GraphQL selection allowed")
    max_aliases: int = Field(default=30, ge=1, le=1000, description="most aliases in one GraphQL document")
    max_tokens: int = Field(default=2000, ge=10, le=100_000, description="most tokens in one GraphQL document")
    max_complexity: int = Field(
        default=20_000,
        ge=10,
        le=1_000_000,
        description="highest estimated cost of one GraphQL operation (fields x requested list limits)",
    )
    ws_connection_init_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="a GraphQL WebSocket must send connection_init within this time"
    )
    ws_keep_alive_seconds: float = Field(
        default=15.0, gt=0, le=600, description="interval of keep-alive messages on GraphQL WebSockets"
    )
    shutdown_grace_seconds: float = Field(
        default=15.0,
        ge=0,
        le=600,
        description="on SIGTERM/SIGINT, how long in-flight requests may take before they are cut (0: no limit)",
    )


class StorageSourceSettings(Section):
    id: int = Field(default=0, ge=0, description="number that file records refer to; unique")
    kind: Literal["local", "s3"] = Field(default="local", description="local directory or S3-compatible bucket")
    path: str = Field(
        default="files", description="local: directory (relative to data_dir); s3: key prefix in the bucket"
    )
    bucket: str | None = Field(default=None, description="s3: bucket name (required for s3)")
    endpoint_url: str | None = Field(default=None, description="s3: endpoint of a non-AWS service (MinIO, R2...)")
    region: str | None = Field(default=None, description="s3: region")
    presigned_redirect: bool = Field(
        default=False,
        description="s3: answer downloads (after the access check) with a redirect to a short-lived presigned URL",
    )
    multipart_threshold_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="s3: files at least this large are sent as a multipart upload",
    )
    multipart_part_bytes: int = Field(
        default=8 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3, description="s3: size of one multipart part"
    )

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> StorageSourceSettings:
        if self.kind == "s3" and not self.bucket:
            raise ValueError("bucket: required when kind is s3")
        return self


MiB = 1024 * 1024


class FileSettings(Section):
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="base URL of the service port as clients reach it (e.g. https://files.example.com); "
        "default: the host the client called, on http.port",
    )
    max_upload_bytes: int = Field(default=100 * MiB, ge=1, description="largest accepted upload, in bytes")
    max_image_bytes: int = Field(default=30 * MiB, ge=1, description="largest image (messages), in bytes")
    max_audio_bytes: int = Field(default=100 * MiB, ge=1, description="largest audio file (messages), in bytes")
    max_video_bytes: int = Field(default=100 * MiB, ge=1, description="largest video (messages), in bytes")
    max_avatar_bytes: int = Field(default=10 * MiB, ge=1, description="largest user or group avatar, in bytes")
    max_sticker_bytes: int = Field(default=2 * MiB, ge=1, description="largest sticker image, in bytes")
    max_graphql_upload_bytes: int = Field(
        default=10 * MiB, ge=1024, description="largest file sent through a GraphQL multipart request (Upload)"
    )
    max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="images with more pixels are refused (decompression bombs)",
    )
    strip_metadata: bool = Field(
        default=True, description="remove EXIF (GPS, camera) and other metadata from images (privacy)"
    )
    thumbnail_size: int = Field(default=320, ge=32, le=2048, description="longest side of image thumbnails, in px")
    user_quota_bytes: int = Field(
        default=2 * 1024 * MiB,
        ge=0,
        description="bytes one user may have stored (uploads in progress count); 0: no limit",
    )
    upload_token_ttl_seconds: int = Field(
        default=3600, ge=30, le=7 * 86_400, description="an upload must start within this time of its token"
    )
    incomplete_upload_ttl_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="uploads not completed by then expire and are removed"
    )
    unattached_grace_seconds: int = Field(
        default=86_400, ge=0, le=365 * 86_400, description="completed files never attached are removed after this"
    )
    sweep_interval_seconds: float = Field(
        default=300, ge=1, le=86_400, description="how often expired, unattached and released files are removed"
    )
    download_url_ttl_seconds: int = Field(
        default=3600, ge=10, le=7 * 86_400, description="lifetime of signed download URLs (file/get_url)"
    )
    default_source: int = Field(default=0, ge=0, description="id of the storage source new uploads go to")
    storage_sources: list[StorageSourceSettings] = Field(
        default_factory=lambda: [StorageSourceSettings()],
        description="where files are stored, one [[file.storage_sources]] table each",
    )

    @model_validator(mode="after")
    def _sources_are_consistent(self) -> FileSettings:
        ids = [source.id for source in self.storage_sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"storage_sources: id {duplicates[0]} is used more than once")
        if self.default_source not in ids:
            raise ValueError(f"default_source: {self.default_source} is not the id of a [[file.storage_sources]]")
        return self

    def source(self, source_id: int) -> StorageSourceSettings:
        return next(s for s in self.storage_sources if s.id == source_id)


class CacheSettings(Section):
    redis_url: SecretStr | None = Field(
        default=None, description="Redis for the event bus and rate limits; default: in-memory (one process)"
    )
    key_prefix: str = Field(
        default="privchat",
        pattern=r"^[A-Za-z0-9_\-]{1,32}$",
        description="namespace for Redis keys and bus topics (several deployments may share one Redis)",
    )


class DatabaseSettings(Section):
    url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL (postgresql://user:pass@host/db); default: SQLite file in data_dir"
    )
    pool_size: int = Field(
        default=20,
        ge=1,
        le=500,
        description="PostgreSQL connections per process for transactions (bursts add half again); the hot path "
        "(sessions, sends) has a pool of its own of up to the same size",
    )
    auto_migrate: bool = Field(default=True, description="apply migrations when the server starts")
    echo: bool = Field(default=False, description="log every SQL statement (debugging)")


LogLevel = Literal["trace", "debug", "info", "warning", "error", "critical"]


class LoggingSettings(Section):
    level: LogLevel = Field(
        default="info",
        description="trace (debug plus every SQL statement) | debug | info | warning | error | critical "
        "(--log-level, PRIVCHAT_LOG_LEVEL)",
    )
    format: Literal["text", "pretty", "compact", "json"] = Field(
        default="text",
        description="text or pretty: for people; compact: short lines; json: one JSON object per line "
        "(--log-format, PRIVCHAT_LOG_FORMAT)",
    )

    @field_validator("level", "format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class SecuritySettings(Section):
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key of access tokens, >= 32 bytes; required unless dev (then generated in data_dir)",
    )
    service_key: SecretStr | None = Field(
        default=None, description="X-Service-Key of the admin REST API; unset: admin REST disabled"
    )
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400, description="lifetime of access tokens")
    refresh_token_ttl_seconds: int = Field(
        default=30 * 86_400, ge=300, le=365 * 86_400, description="lifetime of refresh tokens"
    )
    password_min_length: int = Field(default=8, ge=6, le=128, description="shortest accepted password")
    password_hash_time_cost: int = Field(default=3, ge=1, le=20, description="argon2id iterations")
    password_hash_memory_kib: int = Field(
        default=65_536, ge=1024, le=4 * 1024 * 1024, description="argon2id memory per hash, in KiB"
    )
    login_attempts_per_account: str = Field(
        default="10/minute", description='login attempts per username (limits notation: "10/minute", "100/day")'
    )
    login_attempts_per_ip: str = Field(default="30/minute", description="login attempts per client IP")
    register_per_ip: str = Field(default="20/hour", description="registrations per client IP")
    rpc_per_user: str = Field(default="600/minute", description="RPCs (both doors) per user")
    address_changes_per_user: str = Field(
        default="10/hour",
        description="email/phone changes per user (each tells whether an address is taken: kept rare)",
    )
    keep_revoked_audit: bool = Field(default=False, description="keep revoked message content in an audit table")
    revoke_window_seconds: int = Field(
        default=120, ge=0, le=86_400, description="how long a sender may revoke a message"
    )

    @field_validator(
        "login_attempts_per_account",
        "login_attempts_per_ip",
        "register_per_ip",
        "rpc_per_user",
        "address_changes_per_user",
    )
    @classmethod
    def _is_rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError('not a rate limit like "10/minute"') from None
        return value


class SystemMessageSettings(Section):
    welcome_enabled: bool = Field(default=False, description="send a welcome message to new users")
    welcome_text: str = Field(
        default="Welcome to PrivChat, {display_name}!",
        min_length=1,
        max_length=4000,
        description="text of the welcome message; {display_name} and {username} are replaced",
    )
    sender_username: str = Field(
        default="privchat",
        pattern=r"^[A-Za-z0-9_.]{3,32}$",
        description="account that sends welcome messages and broadcasts (created on first use, cannot log in)",
    )
    sender_display_name: str = Field(
        default="PrivChat", min_length=1, max_length=64, description="display name of that account"
    )
    broadcast_rate: str = Field(
        default="5/hour", description='broadcasts allowed (limits notation), e.g. "5/hour"'
    )

    @field_validator("broadcast_rate")
    @classmethod
    def _is_rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError('not a rate limit like "5/hour"') from None
        return value


class MessagingSettings(Section):
    max_text_length: int = Field(default=4000, ge=1, le=100_000, description="longest text message, in characters")
    max_difference: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="a sync gap larger than this is answered with tooLong: re-fetch history instead",
    )
    event_queue_size: int = Field(
        default=1000,
        ge=10,
        le=1_000_000,
        description="live events buffered per connection before it is told to re-sync",
    )
    socket_send_buffer_bytes: int = Field(
        default=0,
        ge=0,
        le=64 * 1024 * 1024,
        description=(
            "kernel send buffer of each client connection (Linux doubles it): what a device that stops "
            "reading holds there before its live events queue up; 0: the OS sizes it (Linux: up to "
            "net.ipv4.tcp_wmem's maximum, 4 MiB by default)"
        ),
    )
    reaction_emoji: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REACTION_EMOJI),
        min_length=1,
        max_length=200,
        description="the emoji users may react with (a variation selector U+FE0F is ignored when matching)",
    )
    max_pins_per_channel: int = Field(
        default=20, ge=1, le=200, description="most messages pinned at once in one channel"
    )

    @field_validator("reaction_emoji")
    @classmethod
    def _are_emoji(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for emoji in value:
            # Emoji sequences hold joiners and selectors (not "printable"): refuse only blanks and controls.
            if not 1 <= len(emoji) <= 32 or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in emoji):
                raise ValueError(f"{emoji!r} is not an emoji of 1..32 characters without blanks")
            key = emoji.replace("\ufe0f", "")
            if key in seen:
                raise ValueError(f"{emoji!r} is listed twice")
            seen.add(key)
        return value


class Settings(BaseSettings):
    """All of PrivChat's configuration. See `privchat-server generate-config`."""

    model_config = SettingsConfigDict(
        env_prefix="PRIVCHAT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    dev: bool = Field(
        default=False, description="development mode: a JWT secret is generated in data_dir if none is set (--dev)"
    )
    data_dir: Path = Field(
        default=Path("./data"),
        description="SQLite database, generated dev secret, local files; relative to the working directory "
        "(--data-dir, PRIVCHAT_DATA_DIR)",
    )
    host: str = Field(default="0.0.0.0", description="address every port binds to unless a listener says otherwise")
    gateway: GatewaySettings = Field(default_factory=GatewaySettings, description="native binary gateway")
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP ports, GraphQL and its limits")
    file: FileSettings = Field(default_factory=FileSettings, description="uploads and their storage")
    cache: CacheSettings = Field(default_factory=CacheSettings, description="Redis: event bus and rate limits")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="SQLite or PostgreSQL")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="log level and format")
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="secrets, tokens, password hashing, rate limits"
    )
    system_message: SystemMessageSettings = Field(
        default_factory=SystemMessageSettings, description="messages sent by the server itself"
    )
    messaging: MessagingSettings = Field(default_factory=MessagingSettings, description="message limits")

    @model_validator(mode="after")
    def _ports_do_not_collide(self) -> Settings:
        # (transport, host, port) -> the key that binds it; the websocket listener on
        # http.ws_port is served by the GraphQL server itself, so it binds nothing new.
        bound: dict[tuple[str, str, int], str] = {}

        def bind(transport: str, host: str, port: int, key: str) -> None:
            for (other_transport, other_host, other_port), other_key in bound.items():
                same_host = host == other_host or {host, other_host} & WILDCARD_HOSTS
                if other_transport == transport and other_port == port and same_host:
                    raise ValueError(f"{key}: port {port} is also used by {other_key}")
            bound[(transport, host, port)] = key

        bind("tcp", self.host, self.http.port, "http.port")
        bind("tcp", self.host, self.http.ws_port, "http.ws_port")
        for i, listener in enumerate(self.gateway.listeners):
            host, port = self.listener_address(listener)
            if listener.protocol == "websocket" and port == self.http.ws_port and host == self.host:
                continue
            transport = "udp" if listener.protocol == "quic" else "tcp"
            bind(transport, host, port, f"gateway.listeners[{i}] ({listener.protocol})")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first. `.env` is loaded into the environment by the CLI
        # (without overriding real variables), so it needs no source of its own.
        return (
            init_settings,
            _SecretEnvSource(settings_cls),
            env_settings,
            _AliasEnvSource(settings_cls),
            _FileSource(settings_cls),
        )

    # Derived values -----------------------------------------------------------------

    def listener_address(self, listener: ListenerSettings) -> tuple[str, int]:
        """Where a gateway listener binds, its defaults filled in."""
        default_port = {
            "tcp": self.gateway.tcp_port,
            "quic": self.gateway.quic_port,
            "websocket": self.http.ws_port,
        }[listener.protocol]
        return listener.host or self.host, listener.port or default_port

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return normalise_database_url(self.database.url.get_secret_value())
        return f"sqlite+aiosqlite:///{(self.data_dir / 'privchat.db').resolve()}"

    @property
    def redis_url(self) -> str | None:
        return self.cache.redis_url.get_secret_value() if self.cache.redis_url else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgres://` / `postgresql://` spellings and pick async drivers."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class _SecretEnvSource(PydanticBaseSettingsSource):
    """The well-known secret variables (DATABASE_URL, REDIS_URL, PRIVCHAT_JWT_SECRET, PRIVCHAT_SERVICE_KEY)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (section, key), var in SECRET_ENV_VARS.items():
            value = os.environ.get(var)
            if value:
                out.setdefault(section, {})[key] = value
        return out


class _AliasEnvSource(PydanticBaseSettingsSource):
    """PRIVCHAT_LOG_LEVEL and PRIVCHAT_LOG_FORMAT."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (section, key), var in ALIAS_ENV_VARS.items():
            value = os.environ.get(var)
            if value:
                out.setdefault(section, {})[key] = value
        return out


# The parsed TOML file for the Settings() being built: pydantic-settings asks for
# sources through a classmethod, so `load_settings` hands the data over here.
_FILE_DATA: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("_FILE_DATA", default=None)


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _FILE_DATA.get() or {}


# The Settings schema as a plain model: validates a config file's data without reading
# any other source (BaseSettings.__init__ always reads them).
_FileCheck: type[BaseModel] = create_model(
    "_FileCheck",
    __config__=ConfigDict(extra="forbid"),
    **{name: (field.annotation, field) for name, field in Settings.model_fields.items()},  # type: ignore[call-overload]
)


class ConfigError(Exception):
    """A configuration problem, described by key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; refuse secrets in it (they belong in the environment)."""
    if not path.exists():
        raise ConfigError([f"config file {path}: not found"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config file {path}: cannot be read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path}: not valid TOML: {exc}"]) from None
    problems = [
        f"{section}.{key}: a secret is not read from the config file; set the {var} environment variable"
        for (section, key), var in SECRET_ENV_VARS.items()
        if isinstance(data.get(section), dict) and key in data[section]
    ]
    if problems:
        raise ConfigError(problems)
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from all sources. `overrides` are CLI flags (highest priority),
    given as nested dicts, e.g. ``http={"port": 9083}``."""
    file_data = read_config_file(config_file) if config_file is not None else None
    # A bad value in the file is an error even where the environment or a flag overrides it.
    problems = _file_problems(file_data) if file_data is not None else []
    token = _FILE_DATA.set(file_data)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems += [p for p in describe_validation_error(exc.errors()) if p not in problems]
    except SettingsError as exc:  # an environment variable that is not valid JSON for a list or table
        problems.append(_describe_settings_error(exc))
    finally:
        _FILE_DATA.reset(token)
    if problems:
        raise ConfigError(problems)
    return settings


def _file_problems(data: dict[str, Any]) -> list[str]:
    """Problems of the file's own values: types, ranges, unknown keys. Checks that combine
    several keys (port collisions...) are left to the merged settings."""
    try:
        _FileCheck.model_validate(data)
    except ValidationError as exc:
        return describe_validation_error(
            [e for e in exc.errors() if not (e["type"] == "value_error" and _model_at(e["loc"]) is not None)]
        )
    return []


def _describe_settings_error(exc: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(exc))
    field = match.group(1) if match else ""
    prefix = f"PRIVCHAT_{field.upper()}"
    names = sorted(name for name in os.environ if name.upper() == prefix or name.upper().startswith(prefix + "__"))
    return (
        f"{field}: cannot parse the environment variable {' or '.join(names) or prefix}: "
        "lists and tables are written as JSON, e.g. PRIVCHAT_HTTP__CORS_ORIGINS='[\"https://chat.example.com\"]'"
    )


def describe_validation_error(errors: list[ErrorDetails]) -> list[str]:
    """One line per problem: `key.path: what is wrong (got value)`; secrets are never echoed."""
    problems = []
    for err in errors:
        loc = _located(err["loc"], err["msg"].removeprefix("Value error, "))
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _suggestion(loc)
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if len(loc) > len(err["loc"]):  # the key named by a section's validator moved into the path
                msg = msg.split(": ", 1)[1]
            if isinstance(err.get("input"), str | int | float | bool) and not _is_secret(loc):
                msg += f" (got {err['input']!r})"
        problems.append(f"{path}: {msg}" if path else msg)
    return problems


def _located(loc: tuple[int | str, ...], msg: str) -> tuple[int | str, ...]:
    """A section validator says `key: problem`; put the key into the path when it is a field there."""
    key, sep, _rest = msg.partition(": ")
    model = _model_at(loc)
    if sep and model is not None and key in model.model_fields:
        return (*loc, key)
    return loc


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model found at a key path (list indices skipped), if the path leads to one."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    return tuple(loc[:2]) in SECRET_ENV_VARS


def _suggestion(loc: tuple[int | str, ...]) -> str:
    """` (did you mean port?)` for a misspelt key."""
    model = _model_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1) if model else []
    return f" (did you mean {close[0]}?)" if close else ""
