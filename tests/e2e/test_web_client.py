"""The built-in web client (/app/), used the way people use it: in Chromium, against a real
server process. Each scenario of tests/e2e/web/web_client.mjs drives one or more browser
contexts (one per device) through playwright-core and reports what it saw; this module
starts the servers, answers the scenario's requests to stop or start its server, and
fails with the scenario's reason.

Needs Chromium (/usr/bin/chromium or PRIVCHAT_CHROMIUM), node >= 20 and the node test
packages (scripts/install_node_test_deps.sh); without them each test skips saying why,
unless PRIVCHAT_REQUIRE_SERVICES=1 (CI), where a missing tool fails.

Screenshots (phone and desktop) are written to $PRIVCHAT_TEST_ARTIFACTS/web-client
(default: .cache/artifacts/web-client in the repository).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import backends
from tests.support import files as media
from tests.support.server import REPO, ServerProcess
from tests.support.web_tools import node_tooling

DRIVER = REPO / "tests" / "e2e" / "web" / "web_client.mjs"
SCENARIO_TIMEOUT_S = 240

# serial: a browser and a server on a 2-core box; beside a second test worker, a step of
# the "devices" scenario ran past its 20 s wait (it passes alone in 39 s).
pytestmark = pytest.mark.serial


def artifacts_dir() -> Path:
    root = Path(os.environ.get("PRIVCHAT_TEST_ARTIFACTS", REPO / ".cache" / "artifacts"))
    path = root / "web-client"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_scenario(
    name: str, server: ServerProcess, *, browser: bool = True, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one scenario; answer its control requests; return its final report."""
    tools = node_tooling(browser=browser)
    config = {
        **(extra or {}),
        "baseUrl": server.base_url,
        "serviceUrl": server.service_url,
        "artifacts": str(artifacts_dir()),
        "jwtSecret": server.env()["PRIVCHAT_JWT_SECRET"],  # to forge an expired token
    }
    proc = subprocess.Popen(
        [tools.node, str(DRIVER), name, json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=tools.env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    killer = threading.Timer(SCENARIO_TIMEOUT_S, proc.kill)
    killer.start()
    report: dict[str, Any] | None = None
    try:
        for line in proc.stdout:
            message = json.loads(line)
            if "control" in message:
                if message["control"] == "stop-server":
                    server.stop()
                elif message["control"] == "start-server":
                    server.start(timeout=90)
                proc.stdin.write("ok\n")
                proc.stdin.flush()
            else:
                report = message
    finally:
        killer.cancel()
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait(30)
    assert report is not None, f"scenario {name} printed no report (exit {proc.returncode}):\n{stderr}"
    details = json.dumps(report, indent=2, ensure_ascii=False)
    print(f"scenario {name}: phases (s) {report.get('facts', {}).get('phases')}")
    assert report["ok"], f"scenario {name} failed:\n{details}\n{stderr}\nserver log tail:\n{server.log()[-3000:]}"
    return report


# The browser scenarios test the client, which is the same whatever the server's database:
# they run once, on the default backend, except the sync scenario (devices), which runs on
# PostgreSQL + Redis too. (The server's own paths run on both backends in the rest of the suite.)
once = pytest.mark.skipif(
    backends.IS_POSTGRES, reason="browser scenario runs on the SQLite pass only (the devices one runs on both)"
)


@pytest.fixture(scope="module")
def web_server(live_server: ServerProcess) -> ServerProcess:
    node_tooling(browser=True)  # skip (or fail in CI) when the tools are missing
    return live_server


def test_the_page_is_served_with_a_strict_csp_and_can_be_turned_off(
    live_server: ServerProcess, server_factory: Callable[..., ServerProcess]
) -> None:
    on = live_server
    page = httpx.get(f"{on.base_url}/app/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    module = httpx.get(f"{on.base_url}/app/static/main.js")
    assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{on.base_url}/app", follow_redirects=False).status_code == 308
    off = server_factory(extra_env={"PRIVCHAT_HTTP__WEB_CLIENT": "false"})
    assert httpx.get(f"{off.base_url}/app/").status_code == 404
    assert httpx.get(f"{off.base_url}/app/static/main.js").status_code == 404


@pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
@once
def test_two_users_befriend_and_chat_both_ways(web_server: ServerProcess) -> None:
    report = run_scenario("two-users", web_server)
    assert {"chat-desktop.png", "chat-phone.png", "conversations-phone.png"} <= set(report["facts"]["screenshots"])
    assert set(report["facts"]["axe"]) >= {
        "login",
        "friends",
        "conversations-phone",
        "chat-desktop",
        "chat-phone",
        "search",
    }


@pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
@once
def test_a_group_of_three_with_mention_reaction_and_recall(web_server: ServerProcess) -> None:
    report = run_scenario("group", web_server)
    assert "group-details" in report["facts"]["axe"]


@pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
def test_devices_stay_consistent_and_an_offline_device_gets_exactly_what_it_missed(
    server_factory: Callable[..., ServerProcess],
) -> None:
    node_tooling(browser=True)
    report = run_scenario("devices", server_factory())
    assert report["facts"]["offlineMissed"] == 20
    assert report["facts"]["restartMissed"] == 20


@pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
@once
def test_an_expired_token_is_refreshed_silently_and_a_revoked_device_goes_to_login(
    server_factory: Callable[..., ServerProcess],
) -> None:
    node_tooling(browser=True)
    report = run_scenario("session", server_factory())
    assert "logged out" in report["facts"]["revokedReason"]


FILES_SERVICE_KEY = "e2e-web-files-service-key-" + "w" * 16
MAX_UPLOAD = 3 * 1024 * 1024


def _fixtures(directory: Path) -> dict[str, Any]:
    """A photo large enough to watch its progress bar (noise does not compress), a small
    document, sticker and avatar images."""
    from PIL import Image

    size = (1280, 960)
    photo = Image.effect_noise(size, 90).convert("RGB")
    photo.paste((30, 110, 200), (0, 0, size[0] // 2, size[1]))  # a photo is not all noise
    files: dict[str, Any] = {"photo": directory / "beach.jpg", "photoSize": list(size)}
    photo.save(files["photo"], "JPEG", quality=92)
    for name, colour in (("sticker", (240, 160, 40)), ("sticker2", (90, 170, 90)), ("avatar", (200, 60, 90))):
        files[name] = directory / f"{name}.png"
        Image.new("RGB", (256, 256), colour).save(files[name], "PNG")
    files["voice"] = directory / "voice.wav"
    files["voice"].write_bytes(media.wav(1500))
    files["document"] = directory / "notes.txt"
    files["document"].write_text("Packing list\n- sunscreen\n- towel\n", encoding="utf-8")
    files["maxUpload"] = MAX_UPLOAD
    return {k: str(v) if isinstance(v, Path) else v for k, v in files.items()}


@pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
@once
def test_files_photos_avatars_and_stickers_between_two_users(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    node_tooling(browser=True)
    server = server_factory(
        extra_env={"PRIVCHAT_SERVICE_KEY": FILES_SERVICE_KEY, "PRIVCHAT_FILE__MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}
    )
    fixtures = _fixtures(tmp_path)
    assert Path(fixtures["photo"]).stat().st_size > 400_000  # slow enough to see progress at 200 KB/s
    report = run_scenario("files", server, extra={"fixtures": fixtures, "serviceKey": FILES_SERVICE_KEY})
    facts = report["facts"]
    assert len(facts["progressSeen"]) >= 2
    assert max(facts["thumbnail"]) <= 320 and facts["fullImage"] == fixtures["photoSize"]
    assert facts["downloaded"] == "notes.txt"
    assert 1.4 < facts["voiceSeconds"] < 1.6  # the browser decoded the sound it played from the files door
    assert {"attachments-desktop.png", "attachments-phone.png"} <= set(facts["screenshots"])
    assert {"photo-viewer-phone", "stickers-phone", "profile", "chat-attachments-desktop"} <= set(facts["axe"])
