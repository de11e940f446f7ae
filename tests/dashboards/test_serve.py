"""Mounting: the registry, the switch, the root page, OpenAPI, and the API-key check on
the pages (real uvicorn server, no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from dashboards.serve import REGISTRY, available, parse_target, standalone_settings
from server.app import create_app
from server.settings import Settings
from tests.dashboards.conftest import chromium_path
from tests.server.conftest import no_sleep, serving

OWN = ["/cep-events", "/cep-channels", "/cep-observability"]


def test_registry_skips_modules_not_written_and_names_bad_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boards = available({**REGISTRY, "/later": "dashboards.apps.not_written_yet:create"})
    paths = [board.path for board in boards]
    assert set(OWN) <= set(paths) and "/later" not in paths
    with pytest.raises(ValueError, match=re.escape("'dashboards.apps.events:nope'")):
        available({"/x": "dashboards.apps.events:nope"})
    with pytest.raises(ValueError, match=re.escape("expected 'package.module:function'")):
        parse_target("dashboards.apps.events")
    # a module that exists but needs something missing is an error, not skipped
    (tmp_path / "broken_board.py").write_text("import not_a_package_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="not_a_package_anywhere"):
        available({"/broken": "broken_board:create"})


def test_standalone_settings_from_args_then_env() -> None:
    settings = standalone_settings(["app.py", "--url", "http://h:1", "--api-key", "k"], {})
    assert (settings.url, settings.api_key) == ("http://h:1", "k")
    assert standalone_settings(["app.py"], {}).url == "http://127.0.0.1:8000"


def test_mounted_pages_root_links_and_openapi(sqlite_url: str) -> None:
    with serving(create_app(Settings(db=sqlite_url, tick_seconds=0), sleep=no_sleep)) as base:
        root = httpx.get(f"{base}/").json()
        assert set(OWN) <= set(root["dashboards"].values())
        assert root["dashboards"]["CEP event console"] == "/cep-events"
        html = httpx.get(f"{base}/", headers={"Accept": "text/html"})
        assert html.headers["content-type"].startswith("text/html")
        assert '<a href="/cep-channels">CEP channels</a>' in html.text
        page = httpx.get(f"{base}/cep-events", timeout=20)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "<title>CEP event console</title>" in page.text
        schema_paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert not {p for p in schema_paths if p.startswith("/cep-")}
    settings = Settings(db=sqlite_url, tick_seconds=0, dashboards=False)
    with serving(create_app(settings, sleep=no_sleep)) as base:
        assert httpx.get(f"{base}/").json()["dashboards"] == {}
        assert httpx.get(f"{base}/cep-events").status_code == 404


def test_pages_need_an_api_key_when_keys_are_set(sqlite_url: str) -> None:
    settings = Settings(db=sqlite_url, tick_seconds=0, api_keys="view-key:viewer")
    with serving(create_app(settings, sleep=no_sleep)) as base:
        assert httpx.get(f"{base}/cep-channels").status_code == 401
        page = httpx.get(f"{base}/cep-channels", headers={"X-API-Key": "view-key"}, timeout=20)
        assert page.status_code == 200 and "CEP channels" in page.text


def test_missing_chromium_fails_the_browser_tests_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    with pytest.raises(pytest.fail.Exception, match=re.escape("apt-get install -y chromium")):
        chromium_path()
