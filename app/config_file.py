"""Writing configuration out: the commented example file and the masked effective config."""

from __future__ import annotations

import json
from typing import Any

import tomlkit
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from app.config import JWT_SECRET_PLACEHOLDER, SECRET_ENV_VARS, ListenerSettings, Settings

HEADER = f"""\
PrivChat configuration (TOML), written by `privchat-server generate-config`.
Every key is shown with its default; delete what you do not change.

Precedence: command-line flags > environment > .env > this file > defaults.
Environment variables: PRIVCHAT_ + the key path, sections joined with "__",
e.g. PRIVCHAT_HTTP__PORT=9083, PRIVCHAT_DATA_DIR=/var/lib/privchat.
Secrets are read from the environment (or .env) only, never from this file:
  DATABASE_URL          PostgreSQL, e.g. postgresql://privchat:pass@db/privchat
  REDIS_URL             Redis for the event bus and rate limits
  PRIVCHAT_JWT_SECRET   >= 32 random bytes, e.g. from `openssl rand -base64 48`
                        (required unless dev = true; "{JWT_SECRET_PLACEHOLDER}" is refused)
  PRIVCHAT_SERVICE_KEY  X-Service-Key of the admin REST API
Check a file with `privchat-server validate-config PATH`."""

# Shown commented out below [[file.storage_sources]]: how an S3 source looks.
S3_EXAMPLE = """\
[[file.storage_sources]]
id = 1
kind = "s3"
bucket = "privchat-files"
path = "uploads"
endpoint_url = "https://s3.example.com"
region = "us-east-1\""""


def _value(value: Any) -> str:
    return str(tomlkit.item(value).as_string())


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def _field_lines(section: str, key: str, field: FieldInfo, value: Any) -> list[str]:
    lines = _comment(field.description) if field.description else []
    env = SECRET_ENV_VARS.get((section, key))
    if env is not None:
        return [*lines, f"# {key}: secret, set the {env} environment variable"]
    if value is None:
        return [*lines, f"# {key} = (not set)"]
    return [*lines, f"{key} = {_value(value)}"]


def _array_entry(header: str, item: BaseModel) -> list[str]:
    lines = [f"[[{header}]]"]
    for key, value in item.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(item, ListenerSettings) and key == "path" and item.protocol != "websocket":
            continue
        lines.append(f"{key} = {_value(value)}")
    return lines


def _array_fields_comment(model_type: type[BaseModel]) -> list[str]:
    lines = ["# keys of each entry:"]
    for key, field in model_type.model_fields.items():
        if field.is_required():
            default = "required"
        elif field.default is None:
            default = "optional"
        else:
            default = f"default {_value(field.default)}"
        lines.append(f"#   {key} ({default}): {field.description or ''}".rstrip())
    return lines


def render_example_config() -> str:
    """Every section and key with its default and description; secrets appear as comments only."""
    defaults = Settings.model_construct()
    dumped = defaults.model_dump(mode="json")
    out = [*_comment(HEADER), ""]
    sections: list[tuple[str, FieldInfo, BaseModel]] = []
    for name, field in Settings.model_fields.items():
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            sections.append((name, field, value))
        else:
            out += _field_lines("", name, field, dumped[name])
    for name, field, section in sections:
        out += ["", *_comment(field.description or ""), f"[{name}]"]
        arrays: list[tuple[str, FieldInfo, list[BaseModel]]] = []
        for key, sub in type(section).model_fields.items():
            value = getattr(section, key)
            if isinstance(value, list) and value and isinstance(value[0], BaseModel):
                arrays.append((key, sub, value))  # TOML: arrays of tables come after the section's keys
            else:
                out += _field_lines(name, key, sub, dumped[name][key])
        for key, sub, items in arrays:
            out += ["", *_comment(sub.description or ""), *_array_fields_comment(type(items[0]))]
            for item in items:
                out += _array_entry(f"{name}.{key}", item)
            if (name, key) == ("file", "storage_sources"):
                out += ["# an S3-compatible source:", *_comment(S3_EXAMPLE)]
    return "\n".join(out) + "\n"


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings with secrets masked (SecretStr dumps as '**********');
    a database or Redis URL keeps its scheme and host so operators can see where it points."""
    data = settings.model_dump(mode="json")
    if settings.database.url is not None:
        data["database"]["url"] = mask_url(settings.database.url.get_secret_value())
    if settings.cache.redis_url is not None:
        data["cache"]["redis_url"] = mask_url(settings.cache.redis_url.get_secret_value())
    data["database"]["effective_url"] = mask_url(settings.database_url)
    return data


def mask_url(url: str) -> str:
    """`scheme://***:***@host:port/path?***`: credentials and query (which may hold a password) hidden."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "**********"
    # The last "@" ends the credentials: a password may itself contain "@".
    _creds, at, location = rest.rpartition("@")
    location, question, _query = location.partition("?")
    return f"{scheme}://{'***:***@' if at else ''}{location}{'?***' if question else ''}"


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def render_masked(settings: Settings, fmt: str = "toml") -> str:
    data = masked(settings)
    if fmt == "json":
        return json.dumps(data, indent=2)
    return tomlkit.dumps(_without_none(data))


def render_reference() -> str:
    """The key tables of docs/CONFIGURATION.md (a test keeps the committed copy in step)."""
    defaults = Settings()
    out = ["### Top level", "", "| key | default | environment | meaning |", "|---|---|---|---|"]
    sections: list[tuple[str, FieldInfo, BaseModel]] = []
    for name, field in Settings.model_fields.items():
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            sections.append((name, field, value))
        else:
            out.append(f"| `{name}` | {_md_default(value)} | `PRIVCHAT_{name.upper()}` | {_md(field.description)} |")
    for name, field, section in sections:
        out += ["", f"### `[{name}]`: {_md(field.description)}", ""]
        out += ["| key | default | environment | meaning |", "|---|---|---|---|"]
        arrays: list[tuple[str, list[BaseModel]]] = []
        for key, sub in type(section).model_fields.items():
            value = getattr(section, key)
            env = SECRET_ENV_VARS.get((name, key))
            env_text = f"`{env}` (secret)" if env else f"`PRIVCHAT_{name.upper()}__{key.upper()}`"
            if isinstance(value, list):
                env_text += " (JSON)"
            if isinstance(value, list) and value and isinstance(value[0], BaseModel):
                arrays.append((key, value))
                out.append(f"| `{key}` | see below | {env_text} | {_md(sub.description)} |")
            else:
                out.append(f"| `{key}` | {_md_default(value)} | {env_text} | {_md(sub.description)} |")
        for key, items in arrays:
            out += ["", f"#### `[[{name}.{key}]]`", "", "| key | default | meaning |", "|---|---|---|"]
            for item_key, item_field in type(items[0]).model_fields.items():
                default = "required" if item_field.is_required() else _md_default(item_field.default)
                out.append(f"| `{item_key}` | {default} | {_md(item_field.description)} |")
            out += ["", "Default:", "", "```toml"]
            for item in items:
                out += _array_entry(f"{name}.{key}", item)
            out.append("```")
    return "\n".join(out) + "\n"


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|")


def _md_default(value: Any) -> str:
    if value is None:
        return "not set"
    if hasattr(value, "__fspath__"):
        value = str(value)
    return f"`{_value(value)}`"
