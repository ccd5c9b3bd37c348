"""Settings: sources and their precedence, validation messages, the example file, masking, JSON logs."""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.config import (
    SECRET_ENV_VARS,
    ConfigError,
    ListenerSettings,
    Settings,
    load_settings,
    normalise_database_url,
)
from app.config_file import (
    S3_EXAMPLE,
    mask_url,
    masked,
    render_example_config,
    render_masked,
    render_reference,
)
from app.logs import JsonFormatter

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"
SECTIONS = ["gateway", "http", "file", "cache", "database", "logging", "security", "system_message"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No PRIVCHAT_* / secret variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if (name.startswith("PRIVCHAT_") and not name.startswith("PRIVCHAT_TEST")) or name in (
            "DATABASE_URL",
            "REDIS_URL",
        ):
            monkeypatch.delenv(name)
    return monkeypatch


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "privchat.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    return info.value.problems


# Sources and precedence ----------------------------------------------------------------


def test_defaults_match_the_documented_ports() -> None:
    settings = load_settings()
    assert (settings.http.port, settings.http.ws_port) == (9083, 9080)
    assert (settings.gateway.tcp_port, settings.gateway.quic_port) == (9001, 9001)
    assert settings.host == "0.0.0.0" and settings.dev is False
    assert settings.database_url.startswith("sqlite+aiosqlite:///") and settings.redis_url is None


# (file text, env var, expected attribute) for one nested and one top-level key.
KEYS = {
    "nested": ("[http]\nport = {v}\n", "PRIVCHAT_HTTP__PORT", lambda s: s.http.port),
    "top-level": ('host = "{v}"\n', "PRIVCHAT_HOST", lambda s: s.host),
}
VALUES = {"nested": ("1111", "2222", "3333"), "top-level": ("10.0.0.1", "10.0.0.2", "10.0.0.3")}
OVERRIDE = {"nested": lambda v: {"http": {"port": int(v)}}, "top-level": lambda v: {"host": v}}


def _expected(kind: str, value: str) -> object:
    return int(value) if kind == "nested" else value


@pytest.mark.parametrize("kind", KEYS)
def test_file_beats_default(tmp_path: Path, kind: str) -> None:
    text, _env, get = KEYS[kind]
    file_value = VALUES[kind][0]
    assert get(load_settings(write(tmp_path, text.format(v=file_value)))) == _expected(kind, file_value)


@pytest.mark.parametrize("kind", KEYS)
def test_env_beats_file(tmp_path: Path, clean_env: pytest.MonkeyPatch, kind: str) -> None:
    text, env, get = KEYS[kind]
    file_value, env_value, _ = VALUES[kind]
    clean_env.setenv(env, env_value)
    assert get(load_settings(write(tmp_path, text.format(v=file_value)))) == _expected(kind, env_value)


@pytest.mark.parametrize("kind", KEYS)
def test_cli_beats_env_and_file(tmp_path: Path, clean_env: pytest.MonkeyPatch, kind: str) -> None:
    text, env, get = KEYS[kind]
    file_value, env_value, cli_value = VALUES[kind]
    clean_env.setenv(env, env_value)
    settings = load_settings(write(tmp_path, text.format(v=file_value)), **OVERRIDE[kind](cli_value))
    assert get(settings) == _expected(kind, cli_value)


def test_sources_merge_key_by_key_within_a_section(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PRIVCHAT_HTTP__PORT", "2222")
    settings = load_settings(write(tmp_path, "[http]\nws_port = 1111\nmax_aliases = 7\n"), http={"max_aliases": 9})
    assert (settings.http.port, settings.http.ws_port, settings.http.max_aliases) == (2222, 1111, 9)


def test_lists_come_from_the_environment_as_json(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PRIVCHAT_HTTP__CORS_ORIGINS", '["https://chat.example.com"]')
    clean_env.setenv("PRIVCHAT_GATEWAY__LISTENERS", '[{"protocol": "tcp", "port": 7001}]')
    settings = load_settings()
    assert settings.http.cors_origins == ["https://chat.example.com"]
    assert [(x.protocol, x.port) for x in settings.gateway.listeners] == [("tcp", 7001)]


def test_secrets_come_from_their_environment_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgres://u:pw@db/chat")
    clean_env.setenv("REDIS_URL", "redis://redis:6379/1")
    clean_env.setenv("PRIVCHAT_JWT_SECRET", "j" * 40)
    clean_env.setenv("PRIVCHAT_SERVICE_KEY", "svc-key")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u:pw@db/chat" and not settings.is_sqlite
    assert settings.redis_url == "redis://redis:6379/1"
    assert settings.security.jwt_secret is not None and settings.security.jwt_secret.get_secret_value() == "j" * 40
    assert settings.security.service_key is not None
    assert settings.security.service_key.get_secret_value() == "svc-key"


def test_the_well_known_secret_variables_win_over_prefixed_ones(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://short-name/db")
    clean_env.setenv("PRIVCHAT_DATABASE__URL", "postgresql://prefixed/db")
    assert load_settings().database_url == "postgresql+asyncpg://short-name/db"
    clean_env.delenv("DATABASE_URL")
    assert load_settings().database_url == "postgresql+asyncpg://prefixed/db"


@pytest.mark.parametrize(("section", "key"), list(SECRET_ENV_VARS))
def test_a_secret_in_the_config_file_is_refused(tmp_path: Path, section: str, key: str) -> None:
    found = problems(tmp_path, f'[{section}]\n{key} = "hunter2-hunter2-hunter2-hunter2-x"\n')
    assert found == [
        f"{section}.{key}: a secret is not read from the config file; "
        f"set the {SECRET_ENV_VARS[(section, key)]} environment variable"
    ]


# Validation messages name the key --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bogus = 1\n", "bogus: unknown key"),
        ("[http]\nprot = 1\n", "http.prot: unknown key (did you mean port?)"),
        ("[nosuch]\nx = 1\n", "nosuch: unknown key"),
        ('[[gateway.listeners]]\nprotocol = "tcp"\nprot = 1\n', "gateway.listeners[0].prot: unknown key"),
        ('[http]\nport = "abc"\n', "http.port: Input should be a valid integer"),
        ("[http]\nport = 70000\n", "http.port: Input should be less than or equal to 65535 (got 70000)"),
        ("[http]\nws_port = 0\n", "http.ws_port: Input should be greater than or equal to 1"),
        ("http = 3\n", "http: Input should be a valid dictionary"),
        ('[[gateway.listeners]]\nprotocol = "udp"\n', "gateway.listeners[0].protocol: Input should be 'tcp'"),
        ('[logging]\nlevel = "loud"\n', "logging.level: Input should be 'trace'"),
        ("[file]\ndefault_source = 3\n", "file.default_source: 3 is not the id of a [[file.storage_sources]]"),
        ('[[file.storage_sources]]\nkind = "s3"\n', "file.storage_sources[0].bucket: required when kind is s3"),
        ('[security]\nrpc_per_user = "lots"\n', 'security.rpc_per_user: not a rate limit like "10/minute"'),
        ("[http]\nws_port = 9083\n", "http.ws_port: port 9083 is also used by http.port"),
        ("[gateway]\ntcp_port = 9080\n", "gateway.listeners[0] (tcp): port 9080 is also used by http.ws_port"),
    ],
)
def test_a_bad_value_is_reported_with_its_key_path(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_a_bad_value_in_the_file_is_reported_even_when_overridden(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("PRIVCHAT_HTTP__PORT", "2222")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, '[http]\nport = "abc"\nws_port = 0\n'), http={"ws_port": 3333})
    assert [p.split(":")[0] for p in info.value.problems] == ["http.port", "http.ws_port"]


def test_keys_combined_across_sources_are_checked_together(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    # The file alone is fine (its ws_port collides with the default http.port only until the env moves it).
    clean_env.setenv("PRIVCHAT_HTTP__PORT", "2222")
    assert load_settings(write(tmp_path, "[http]\nws_port = 9083\n")).http.ws_port == 9083
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[http]\nws_port = 2222\n"))
    assert info.value.problems == ["http.ws_port: port 2222 is also used by http.port"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "[http]\nport = 0\nprot = 1\n[logging]\nformat = 1\n")
    assert {p.split(":")[0] for p in found} == {"http.port", "http.prot", "logging.format"}


def test_malformed_toml_is_reported_with_file_and_position(tmp_path: Path) -> None:
    found = problems(tmp_path, "[http\nport = 1\n")
    assert len(found) == 1 and "privchat.toml: not valid TOML" in found[0] and "line 1" in found[0]


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "absent.toml")
    assert info.value.problems == [f"config file {tmp_path / 'absent.toml'}: not found"]


def test_a_bad_environment_variable_is_reported_with_its_key_path(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PRIVCHAT_HTTP__PORT", "abc")
    clean_env.setenv("PRIVCHAT_HTTP__PROT", "1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert any(p.startswith("http.port: Input should be a valid integer") for p in info.value.problems)
    assert "http.prot: unknown key (did you mean port?)" in info.value.problems


def test_an_environment_variable_that_is_not_json_names_the_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PRIVCHAT_HTTP__CORS_ORIGINS", "[https://a.example")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "PRIVCHAT_HTTP__CORS_ORIGINS" in info.value.problems[0]


def test_log_level_and_format_are_case_insensitive(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PRIVCHAT_LOGGING__LEVEL", "WARNING")
    assert load_settings(logging={"format": "JSON"}).logging.model_dump() == {"level": "warning", "format": "json"}


# Derived values ---------------------------------------------------------------------------


def test_listener_defaults_follow_the_gateway_and_http_ports() -> None:
    settings = load_settings(host="127.0.0.1", gateway={"tcp_port": 7001, "quic_port": 7002}, http={"ws_port": 7080})
    assert [settings.listener_address(x) for x in settings.gateway.listeners] == [
        ("127.0.0.1", 7001),
        ("127.0.0.1", 7002),
        ("127.0.0.1", 7080),
    ]
    assert settings.listener_address(ListenerSettings(protocol="tcp", host="::1", port=7777)) == ("::1", 7777)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_urls_get_async_drivers(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


# The example file ----------------------------------------------------------------------------


def test_the_example_config_is_valid_toml_with_every_section(tmp_path: Path) -> None:
    text = render_example_config()
    data = tomllib.loads(text)
    assert set(SECTIONS) <= set(data)
    assert "[[gateway.listeners]]" in text and "[[file.storage_sources]]" in text
    assert [x["protocol"] for x in data["gateway"]["listeners"]] == ["tcp", "quic", "websocket"]
    assert data["file"]["storage_sources"][0]["kind"] == "local"


def test_the_example_config_shows_every_key() -> None:
    text = render_example_config()
    data = tomllib.loads(text)
    defaults = Settings()
    for name in Settings.model_fields:
        section = getattr(defaults, name)
        if not isinstance(section, BaseModel):
            assert name in data, name
            continue
        for key in type(section).model_fields:
            value = getattr(section, key)
            if (name, key) in SECRET_ENV_VARS:
                assert f"# {key}: secret, set the {SECRET_ENV_VARS[(name, key)]} environment variable" in text
            elif value is None:
                assert f"# {key} = (not set)" in text, f"{name}.{key}"
            else:
                assert key in data[name], f"{name}.{key}"
            if isinstance(value, list) and value and isinstance(value[0], BaseModel):
                for item_key in type(value[0]).model_fields:  # documented above the [[name.key]] tables
                    assert f"#   {item_key} (" in text, f"{name}.{key}.{item_key}"


def test_the_example_config_loads_as_the_defaults(tmp_path: Path) -> None:
    from_file = load_settings(write(tmp_path, render_example_config()))
    assert from_file.model_dump() == Settings().model_dump()


def test_the_commented_s3_example_is_valid(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, render_example_config() + "\n" + S3_EXAMPLE + "\n"))
    assert [(s.id, s.kind, s.bucket) for s in settings.file.storage_sources] == [
        (0, "local", None),
        (1, "s3", "privchat-files"),
    ]


def test_the_configuration_doc_lists_every_key_with_its_default() -> None:
    # On failure, paste render_reference() over the generated part of docs/CONFIGURATION.md.
    assert render_reference() in DOC.read_text()
    for section in SECTIONS:
        assert f"### `[{section}]`" in render_reference()


# Masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bob:pw@db:5432/chat", "postgresql://***:***@db:5432/chat"),
        ("postgresql://bob:p@ss@db/chat", "postgresql://***:***@db/chat"),
        ("postgresql://db/chat?user=bob&password=pw", "postgresql://db/chat?***"),
        ("redis://:pw@cache:6379/0", "redis://***:***@cache:6379/0"),
        ("sqlite+aiosqlite:////srv/privchat.db", "sqlite+aiosqlite:////srv/privchat.db"),
        ("not a url", "**********"),
    ],
)
def test_mask_url_hides_credentials_and_query(url: str, expected: str) -> None:
    assert mask_url(url) == expected


def test_masked_settings_contain_no_secret(clean_env: pytest.MonkeyPatch) -> None:
    secrets = {
        "DATABASE_URL": "postgresql://bob:db-pass-1@db.example/chat",
        "REDIS_URL": "redis://:redis-pass-2@cache.example:6379/0",
        "PRIVCHAT_JWT_SECRET": "jwt-secret-3-" + "z" * 32,
        "PRIVCHAT_SERVICE_KEY": "service-key-4",
    }
    for name, value in secrets.items():
        clean_env.setenv(name, value)
    settings = load_settings()
    for fmt in ("toml", "json"):
        out = render_masked(settings, fmt)
        assert "db.example" in out and "cache.example" in out
        for leaked in ("db-pass-1", "redis-pass-2", "jwt-secret-3", "service-key-4"):
            assert leaked not in out, (fmt, leaked)
    assert masked(settings)["security"]["jwt_secret"] == "**********"


# JSON logs ---------------------------------------------------------------------------------


def test_json_log_lines_are_objects_with_extras_and_without_colour_codes() -> None:
    record = logging.LogRecord("privchat.test", logging.WARNING, __file__, 1, "user %s", ("ann",), None)
    record.route = "message/send"
    record.color_message = "\x1b[36muser\x1b[0m %s"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"ts": None} == {
        "ts": None,
        "level": "warning",
        "logger": "privchat.test",
        "msg": "user ann",
        "route": "message/send",
    }
