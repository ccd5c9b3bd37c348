"""The deployment files, checked without Docker (no daemon is assumed on test machines).

- Dockerfile: its shape (multi-stage, slim base, non-root, health check, `serve`), and its
  commands replayed: the COPY and RUN steps of the build stage in a clean virtualenv, the
  installed `privchat-server` run, the HEALTHCHECK command run against a live server.
- docker-compose.yml: parsed; every variable it gives the server is a real setting with a
  valid value (through the settings model), its ports are the server's, its services exist.
- The Grafana dashboard: every query names a metric a live server exports.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import BaseModel

from app.config import ALIAS_ENV_VARS, SECRET_ENV_VARS, Settings, load_settings
from tests.support.server import REPO, ServerProcess

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DASHBOARD = REPO / "docs" / "grafana" / "privchat-dashboard.json"
ALERTS = REPO / "docs" / "prometheus" / "privchat-alerts.yml"


# -- Dockerfile ------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            out.append([])
        out[-1].append((keyword, rest))
    return out


def test_dockerfile_is_multi_stage_slim_non_root_and_health_checked() -> None:
    build, final = stages()
    for stage in (build, final):
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"python:3\.1[1-9]-slim", image), image
    final_keys = dict(final)
    assert final_keys["USER"] not in ("root", "0")
    assert "/healthz" in final_keys["HEALTHCHECK"]
    assert json.loads(final_keys["ENTRYPOINT"]) == ["privchat-server"]
    assert json.loads(final_keys["CMD"]) == ["serve"]
    defaults = Settings.model_construct()
    exposed = set(final_keys["EXPOSE"].split())
    assert exposed == {
        f"{defaults.gateway.tcp_port}/tcp",
        f"{defaults.gateway.quic_port}/udp",
        f"{defaults.http.ws_port}/tcp",
        f"{defaults.http.port}/tcp",
    }
    env = dict(pair.split("=", 1) for pair in shlex.split(final_keys["ENV"]))
    assert_real_settings({k: v for k, v in env.items() if k.startswith("PRIVCHAT_")})


# A pip install of every dependency into a fresh venv: 115 s of the suite's 120 s default on
# a loaded 2-core box, more beside another xdist worker; bounded by its steps' own 600 s.
@pytest.mark.timeout(600)
def test_the_image_install_steps_work_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """The build stage replayed: its COPY and RUN steps, with /app and /opt/privchat moved to tmp_path."""
    build, final = stages()
    app_dir, venv = tmp_path / "app", tmp_path / "opt-privchat"

    def local(text: str) -> str:
        """Absolute paths of the image moved under tmp_path (only where a path starts)."""
        text = re.sub(r"(^|\s)/opt/privchat\b", lambda m: m.group(1) + str(venv), text)
        return re.sub(r"(^|\s)/app\b", lambda m: m.group(1) + str(app_dir), text)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRIVCHAT_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(dict(re.findall(r"(\w+)=(\S+)", dict(build).get("ENV", ""))))
    for keyword, rest in build[1:]:
        if keyword == "COPY":
            *sources, target = rest.split()
            destination = Path(local(target))
            for source in sources:
                path = REPO / source
                if path.is_dir():
                    shutil.copytree(path, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, destination / path.name)
        elif keyword == "RUN":
            command = local(rest).replace("python -m venv", f"{sys.executable} -m venv")
            done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    entrypoint = json.loads(dict(final)["ENTRYPOINT"])
    server = venv / "bin" / entrypoint[0]
    data = tmp_path / "data"
    run_env = {**env, "PRIVCHAT_ENV_FILE": "/nonexistent/.env"}
    migrated = subprocess.run(
        [str(server), "migrate", "--data-dir", str(data)], env=run_env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    checked = subprocess.run(
        [str(server), "check", "--data-dir", str(data)], env=run_env, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_healthcheck_command_passes_against_a_live_server(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory()
    command = json.loads(dict(stages()[-1])["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert command[0] == "python"
    command = [sys.executable, *command[1:]]
    live = [part.replace(":9083/", f":{server.http_port}/") for part in command]
    assert subprocess.run(live, timeout=30).returncode == 0
    server.stop()
    assert subprocess.run(live, timeout=30, capture_output=True).returncode != 0


# -- docker-compose.yml ----------------------------------------------------------------------


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in variables, f"${{{name}}} is not in .env.example"
        return variables[name]

    return re.sub(r"\$\{(\w+)\}", replace, value).replace("$$", "$")


def setting_exists(name: str) -> bool:
    """A PRIVCHAT_* variable names a setting: an alias, a secret, or a key path."""
    if name in ALIAS_ENV_VARS.values() or name in SECRET_ENV_VARS.values():
        return True
    model: type[BaseModel] = Settings
    parts = name.removeprefix("PRIVCHAT_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def assert_real_settings(env: dict[str, str]) -> Settings:
    for name in env:
        if name.startswith("PRIVCHAT_"):
            assert setting_exists(name), f"{name} is not a setting"
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith("PRIVCHAT_") or name in ("DATABASE_URL", "REDIS_URL"):
                del os.environ[name]
        os.environ.update(env)
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_compose_file_gives_the_server_real_settings_and_its_own_ports() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    server = services["privchat"]
    variables = env_example()
    assert server["env_file"] == ".env"
    env = {k: v for k, v in variables.items() if k.startswith("PRIVCHAT_")}
    env.update({k: interpolate(str(v), variables) for k, v in server["environment"].items()})
    settings = assert_real_settings({k: v for k, v in env.items() if k.startswith("PRIVCHAT_") or k.endswith("_URL")})
    assert settings.database_url.startswith("postgresql+asyncpg://privchat:")
    assert "@postgres:5432/privchat" in settings.database_url and settings.redis_url == "redis://redis:6379/0"
    s3 = settings.file.source(settings.file.default_source)
    assert s3.kind == "s3" and s3.endpoint_url == "http://minio:9000"
    assert server["command"] == ["serve"]
    published = {p.split(":", 1)[1] for p in server["ports"]}
    assert published == {
        f"{settings.gateway.tcp_port}/tcp",
        f"{settings.gateway.quic_port}/udp",
        str(settings.http.ws_port),
        str(settings.http.port),
    }
    assert server["volumes"] == ["privchat-data:/var/lib/privchat"]
    for name in server["depends_on"]:
        assert name in services
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"]
        for value in (service.get("environment") or {}).values():
            interpolate(str(value), variables)  # every ${VAR} has a value in .env.example
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "privchat"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]


# -- Grafana ---------------------------------------------------------------------------------


def test_every_dashboard_and_alert_query_names_an_exported_metric(server_factory: Callable[..., ServerProcess]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) >= 10
    alerts = [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert len(alerts) >= 5
    queries += alerts
    server = server_factory()
    exported = httpx.get(f"{server.service_url}/metrics", timeout=10).text
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exported, re.MULTILINE))
    needed = {"messages", "deliveries", "latency", "connections", "errors", "pool", "bus lag"}
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    assert all(word in titles for word in needed), titles
    for query in queries:
        names = re.findall(r"\b(privchat_[a-z0-9_]+)", query)
        assert names, query
        for name in names:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            counter = name.removesuffix("_total")
            assert family in families or counter in families or name in families, f"{name} is not exported"
            if name.endswith("_bucket"):
                assert families[family] == "histogram", name
