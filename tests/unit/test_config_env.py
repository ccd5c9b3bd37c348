"""Every setting is reachable from the environment; the log aliases; the checked-in example config."""

from __future__ import annotations

import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from app.config import ALIAS_ENV_VARS, SECRET_ENV_VARS, Settings, load_settings
from app.config_file import render_example_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if (name.startswith("PRIVCHAT_") and not name.startswith("PRIVCHAT_TEST")) or name in (
            "DATABASE_URL",
            "REDIS_URL",
        ):
            monkeypatch.delenv(name)
    return monkeypatch


def leaves(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], FieldInfo]]:
    """Every setting below `model` that is not itself a section."""
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += leaves(annotation, (*path, name))
        else:
            out.append(((*path, name), field))
    return out


def other_value(path: tuple[str, ...], field: FieldInfo, default: Any) -> Any:
    """A valid value that differs from the default, as the setting's Python value."""
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        return next(v for v in typing.get_args(annotation) if v != default)
    if annotation is bool:
        return not default
    if annotation is SecretStr:
        return "postgresql://u:p@db/x" if path[-1] == "url" else "redis://r:6379/0" if "redis" in path[-1] else "s" * 40
    if annotation is Path:
        return "/tmp/somewhere"
    if annotation is int or annotation is float:
        bounds = {type(m).__name__: m for m in field.metadata}
        step = 1
        candidate = (default or 0) + step
        le = getattr(bounds.get("Le"), "le", None)
        if le is not None and candidate > le:
            candidate = (default or 0) - step
        return annotation(candidate)
    if annotation is str:
        special = {
            ("host",): "127.0.0.1",
            ("cache", "key_prefix"): "other",
            ("file", "public_url"): "https://files.example.com",
            ("system_message", "sender_username"): "notices",
        }
        if path in special:
            return special[path]
        if path[-1] in (
            "login_attempts_per_account", "login_attempts_per_ip", "register_per_ip", "rpc_per_user",
            "address_changes_per_user",
        ):  # fmt: skip
            return "7/minute"
        if path[-1] == "broadcast_rate":
            return "3/hour"
        return (default or "x") + "!"
    if typing.get_origin(annotation) is list:
        item = typing.get_args(annotation)[0]
        if item is str:
            return ["https://chat.example.com"] if path[-1] == "cors_origins" else ["👍", "🎉"]
        return None  # lists of tables: checked below
    raise AssertionError(f"no test value for {'.'.join(path)} ({annotation})")


# Settings that are only valid together with another one.
COMPANIONS: dict[tuple[str, ...], dict[str, str]] = {
    ("file", "default_source"): {
        "PRIVCHAT_FILE__STORAGE_SOURCES": json.dumps([{"id": 0}, {"id": 1, "path": "second"}])
    },
}


def env_name(path: tuple[str, ...]) -> str:
    if tuple(path[:2]) in SECRET_ENV_VARS:
        return SECRET_ENV_VARS[(path[0], path[1])]
    return "PRIVCHAT_" + "__".join(p.upper() for p in path)


def test_every_setting_is_reachable_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    defaults = Settings.model_construct()
    checked = 0
    for path, field in leaves(Settings):
        default: Any = defaults
        for part in path:
            default = getattr(default, part)
        value = other_value(path, field, default.get_secret_value() if isinstance(default, SecretStr) else default)
        if value is None:
            continue
        name = env_name(path)
        clean_env.setenv(
            name,
            json.dumps(value)
            if isinstance(value, list)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value),
        )
        for extra, extra_value in COMPANIONS.get(path, {}).items():
            clean_env.setenv(extra, extra_value)
        settings = load_settings()
        got: Any = settings
        for part in path:
            got = getattr(got, part)
        if isinstance(got, SecretStr):
            got = got.get_secret_value()
        assert got == (Path(value) if isinstance(got, Path) else value), f"{name} did not set {'.'.join(path)}"
        clean_env.delenv(name)
        for extra in COMPANIONS.get(path, {}):
            clean_env.delenv(extra)
        checked += 1
    assert checked == len(leaves(Settings)) - 2  # all but the two lists of tables
    # Lists of tables come as JSON too.
    clean_env.setenv("PRIVCHAT_GATEWAY__LISTENERS", json.dumps([{"protocol": "tcp", "port": 9555}]))
    clean_env.setenv("PRIVCHAT_FILE__STORAGE_SOURCES", json.dumps([{"id": 0, "kind": "local", "path": "elsewhere"}]))
    settings = load_settings()
    assert settings.gateway.listeners[0].port == 9555 and settings.file.storage_sources[0].path == "elsewhere"


def test_the_short_log_variables_work_and_the_long_ones_win(clean_env: pytest.MonkeyPatch) -> None:
    assert set(ALIAS_ENV_VARS.values()) == {"PRIVCHAT_LOG_LEVEL", "PRIVCHAT_LOG_FORMAT"}
    clean_env.setenv("PRIVCHAT_LOG_LEVEL", "DEBUG")
    clean_env.setenv("PRIVCHAT_LOG_FORMAT", "json")
    settings = load_settings()
    assert (settings.logging.level, settings.logging.format) == ("debug", "json")
    clean_env.setenv("PRIVCHAT_LOGGING__LEVEL", "trace")
    assert load_settings().logging.level == "trace"
    clean_env.setenv("PRIVCHAT_LOG_FORMAT", "fancy")
    with pytest.raises(Exception, match=r"logging\.format"):
        load_settings()


def test_config_example_toml_is_the_generated_one() -> None:
    checked_in = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert checked_in == render_example_config(), "run: privchat-server generate-config --force config.example.toml"
