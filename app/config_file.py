"""Writing configuration out: the commented example file and the masked effective config."""

from __future__ import annotations

import json
from typing import Any

import tomlkit
from pydantic import BaseModel, SecretStr
from tomlkit.items import Table

from app.config import Settings

SECRET_ENV = {
    ("database", "url"): "DATABASE_URL",
    ("cache", "redis_url"): "REDIS_URL",
    ("security", "jwt_secret"): "PRIVCHAT_JWT_SECRET",
    ("security", "service_key"): "PRIVCHAT_SERVICE_KEY",
}
HEADER = """PrivChat configuration (TOML).
Precedence: command-line flags > PRIVCHAT_* environment (nested keys with "__",
e.g. PRIVCHAT_HTTP__PORT=9083) > .env > this file > built-in defaults.
Secrets are read from the environment only: DATABASE_URL, REDIS_URL,
PRIVCHAT_JWT_SECRET, PRIVCHAT_SERVICE_KEY."""


def _toml_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {k: _toml_value(v) for k, v in value.model_dump(mode="json").items() if v is not None}
    if isinstance(value, list):
        return [_toml_value(v) for v in value]
    return value


def render_example_config() -> str:
    """Every key with its default and description; secrets appear as comments only."""
    defaults = Settings.model_construct()
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    sections: list[tuple[str, BaseModel]] = []
    for name, field in Settings.model_fields.items():
        value = getattr(defaults, name, field.get_default(call_default_factory=True))
        if isinstance(value, BaseModel):
            sections.append((name, value))
            continue
        if field.description:
            doc.add(tomlkit.comment(field.description))
        doc.add(name, str(value) if not isinstance(value, bool | int | float | str) else value)
    for name, section in sections:
        table = tomlkit.table()
        for key, field in type(section).model_fields.items():
            value = getattr(section, key)
            env = SECRET_ENV.get((name, key))
            if env is not None:
                table.add(tomlkit.comment(f"{key}: secret, set it with the {env} environment variable"))
                continue
            if field.description:
                table.add(tomlkit.comment(field.description))
            if value is None:
                table.add(tomlkit.comment(f"{key} = (unset)"))
                continue
            if isinstance(value, list) and value and isinstance(value[0], BaseModel):
                aot = tomlkit.aot()
                for item in value:
                    entry = tomlkit.table()
                    for k, v in item.model_dump(mode="json").items():
                        if v is not None:
                            entry.add(k, v)
                    aot.append(entry)
                table.add(key, aot)
                continue
            table.add(key, _toml_value(value) if not isinstance(value, SecretStr) else "")
        doc.add(name, table)
    return tomlkit.dumps(doc)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings with secrets masked (SecretStr dumps as '**********');
    a database URL keeps its scheme and host so operators can see where it points."""
    data = settings.model_dump(mode="json")
    if settings.database.url is not None:
        data["database"]["url"] = _mask_url(settings.database.url.get_secret_value())
    if settings.cache.redis_url is not None:
        data["cache"]["redis_url"] = _mask_url(settings.cache.redis_url.get_secret_value())
    data["database"]["effective_url"] = _mask_url(settings.database_url)
    return data


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "**********"
    _creds, at, host = rest.rpartition("@")
    return f"{scheme}://{'***:***@' if at else ''}{host}"


def render_masked(settings: Settings, fmt: str = "toml") -> str:
    data = masked(settings)
    if fmt == "json":
        return json.dumps(data, indent=2)
    doc = tomlkit.document()
    for key, value in data.items():
        if isinstance(value, dict):
            table: Table = tomlkit.table()
            for k, v in value.items():
                if v is not None:
                    table.add(k, v)
            doc.add(key, table)
        elif value is not None:
            doc.add(key, value)
    return tomlkit.dumps(doc)
