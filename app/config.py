"""Settings: TOML file < .env < environment < CLI flags, validated by pydantic.

Every section forbids unknown keys so a typo is reported with its key path
instead of being silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Port = int  # validated by Field(ge=1, le=65535) where used

DEFAULT_DEV_SECRET_MARKER = "change-me"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ListenerSettings(Section):
    protocol: Literal["tcp", "quic", "websocket"]
    host: str | None = Field(default=None, description="defaults to server.host")
    port: int | None = Field(default=None, ge=1, le=65535, description="defaults per protocol")
    path: str = "/gate"


def _default_listeners() -> list[ListenerSettings]:
    return [
        ListenerSettings(protocol="tcp"),
        ListenerSettings(protocol="quic"),
        ListenerSettings(protocol="websocket", path="/gate"),
    ]


class GatewaySettings(Section):
    tcp_port: int = Field(default=9001, ge=1, le=65535)
    quic_port: int = Field(default=9001, ge=1, le=65535)
    listeners: list[ListenerSettings] = Field(default_factory=_default_listeners)
    max_frame_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_inflight_rpcs: int = Field(default=64, ge=1, le=10_000)
    auth_deadline_seconds: float = Field(default=10.0, gt=0, le=300)
    idle_timeout_seconds: float = Field(default=90.0, gt=0, le=3600)
    quic_certificate: Path | None = None
    quic_private_key: Path | None = None


class HttpSettings(Section):
    host: str = "0.0.0.0"
    port: int = Field(default=9083, ge=1, le=65535, description="files, admin REST, metrics, health")
    ws_port: int = Field(default=9080, ge=1, le=65535, description="GraphQL over HTTP/WS and /gate")
    cors_origins: list[str] = Field(default_factory=list)
    graphiql: bool = True
    introspection: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_query_depth: int = Field(default=12, ge=1, le=100)
    max_aliases: int = Field(default=30, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=10, le=100_000)
    max_complexity: int = Field(default=2000, ge=10, le=1_000_000)
    ws_connection_init_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    ws_keep_alive_seconds: float = Field(default=15.0, gt=0, le=600)
    shutdown_grace_seconds: float = Field(default=15.0, ge=0, le=600)


class StorageSourceSettings(Section):
    id: int = Field(default=0, ge=0)
    kind: Literal["local", "s3"] = "local"
    path: str = "files"
    bucket: str | None = None
    endpoint_url: str | None = None
    region: str | None = None


class FileSettings(Section):
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    default_source: int = 0
    storage_sources: list[StorageSourceSettings] = Field(default_factory=lambda: [StorageSourceSettings()])


class CacheSettings(Section):
    redis_url: SecretStr | None = Field(default=None, description="env REDIS_URL")
    key_prefix: str = Field(
        default="privchat",
        pattern=r"^[A-Za-z0-9_\-]{1,32}$",
        description="namespace for Redis keys and bus topics (several deployments may share one Redis)",
    )


class DatabaseSettings(Section):
    url: SecretStr | None = Field(
        default=None, description="env DATABASE_URL; default: SQLite file in the data dir"
    )
    pool_size: int = Field(default=10, ge=1, le=500)
    auto_migrate: bool = True
    echo: bool = False


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["text", "json"] = "text"


class SecuritySettings(Section):
    jwt_secret: SecretStr | None = Field(default=None, description="env PRIVCHAT_JWT_SECRET")
    service_key: SecretStr | None = Field(default=None, description="env PRIVCHAT_SERVICE_KEY")
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300, le=365 * 86_400)
    password_min_length: int = Field(default=8, ge=6, le=128)
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65_536, ge=1024, le=4 * 1024 * 1024)
    login_attempts_per_account: str = Field(default="10/minute", description="limits notation")
    login_attempts_per_ip: str = Field(default="30/minute")
    register_per_ip: str = Field(default="20/hour")
    rpc_per_user: str = Field(default="600/minute")
    keep_revoked_audit: bool = False
    revoke_window_seconds: int = Field(default=120, ge=0, le=86_400)


class SystemMessageSettings(Section):
    welcome_enabled: bool = False
    welcome_text: str = "Welcome to PrivChat!"


class MessagingSettings(Section):
    max_text_length: int = Field(default=4000, ge=1, le=100_000)


class Settings(BaseSettings):
    """All of PrivChat's configuration. See `privchat-server generate-config`."""

    model_config = SettingsConfigDict(
        env_prefix="PRIVCHAT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    dev: bool = Field(default=False, description="development mode: generated JWT secret allowed")
    data_dir: Path = Path("./data")
    host: str = "0.0.0.0"
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    file: FileSettings = Field(default_factory=FileSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    system_message: SystemMessageSettings = Field(default_factory=SystemMessageSettings)
    messaging: MessagingSettings = Field(default_factory=MessagingSettings)

    @model_validator(mode="after")
    def _ports_do_not_collide(self) -> Settings:
        if self.http.port == self.http.ws_port:
            raise ValueError("http.port and http.ws_port must differ")
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
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _SecretEnvSource(settings_cls),
            env_settings,
            dotenv_settings,
        ]
        config_file = _CONFIG_FILE.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived values -----------------------------------------------------------------

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
    """Well-known un-prefixed secret variables (DATABASE_URL, REDIS_URL)."""

    MAPPING = {
        "DATABASE_URL": ("database", "url"),
        "REDIS_URL": ("cache", "redis_url"),
        "PRIVCHAT_JWT_SECRET": ("security", "jwt_secret"),
        "PRIVCHAT_SERVICE_KEY": ("security", "service_key"),
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for var, (section, key) in self.MAPPING.items():
            value = os.environ.get(var)
            if value:
                out.setdefault(section, {})[key] = value
        return out


class _ConfigFileVar:
    """The TOML file for the next Settings() construction (pydantic-settings reads
    sources through a classmethod, so the path is handed over here)."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def get(self) -> Path | None:
        return self._path

    def set(self, path: Path | None) -> None:
        self._path = path


_CONFIG_FILE = _ConfigFileVar()


class ConfigError(Exception):
    """A configuration problem, described by key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from all sources. `overrides` are CLI flags (highest priority),
    given as nested dicts, e.g. ``http={"port": 9083}``."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError([f"config file {config_file}: not found"])
    _CONFIG_FILE.set(config_file)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except (ValueError, OSError) as exc:  # TOML syntax errors surface as ValueError
        raise ConfigError([f"config file {config_file}: {exc}"]) from None
    finally:
        _CONFIG_FILE.set(None)


def describe_validation_error(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{path}: {msg}")
    return problems


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
