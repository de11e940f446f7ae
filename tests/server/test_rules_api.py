"""/cep/rules through FastAPI's TestClient, against real SQLite files and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from cepkit.store import METADATA_KEYS, create_store
from server.app import create_app
from server.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE_RULES = REPO_ROOT / "data" / "rules" / "guide"
RULE_PACK = REPO_ROOT / "data" / "rules" / "pack"


def lab2_rule(endpoint: str = "https://events.pagerduty.com/v2/enqueue") -> dict[str, Any]:
    """The guide's Lab 2 rule (steps 1-3) as one document."""
    return {
        "rule_name": "critical_error_event",
        "description": "API Gateway critical error detection",
        "is_active": True,
        "trigger_type": "event",
        "trigger_spec": {
            "event_type": "error",
            "conditions": [
                {"field": "severity", "op": "==", "value": "critical"},
                {"field": "service", "op": "==", "value": "api-gateway"},
            ],
            "logic": "AND",
        },
        "actions": {
            "type": "multi_action",
            "actions": [
                {"type": "webhook", "endpoint": endpoint, "method": "POST"},
                {
                    "type": "notify",
                    "channels": ["Slack"],
                    "message": "[CRITICAL] API Gateway error detected: {{severity}} - {{summary}}",
                },
            ],
        },
    }


def metric_rule(name: str = "cpu_high_alert", **extra: Any) -> dict[str, Any]:
    """Lab 8's JSON preview, renamed."""
    return {
        "rule_name": name,
        "description": "프로덕션 서버 CPU/Memory 임계치 모니터링",
        "is_active": False,
        "trigger_type": "metric",
        "trigger_spec": {
            "metricName": "cpu_usage",
            "operator": ">",
            "threshold": "85",
            "aggregation": "avg",
            "duration": "5m",
        },
        "composite_condition": {
            "conditions": [
                {"field": "cpu_usage", "op": ">", "value": "85"},
                {"field": "memory_percent", "op": ">", "value": "70"},
            ],
            "logic": "AND",
        },
        "window_config": {"type": "tumbling", "size": "5m"},
        "actions": [
            {
                "type": "webhook",
                "endpoint": "https://api.internal.example.com/alerts/cpu",
                "method": "POST",
            },
            {
                "type": "notify",
                "channels": ["Slack", "Email"],
                "message": (
                    "서버 CPU 사용률이 임계치를 초과했습니다. host={{host}}, cpu={{cpu_usage}}%"
                ),
            },
        ],
        **extra,
    }


def without_metadata(rule: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in rule.items() if key not in METADATA_KEYS}


def guide_files() -> list[Path]:
    return sorted(GUIDE_RULES.glob("*.json"))


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(db=sqlite_url, rule_pack=None, tick_seconds=0)


@pytest.fixture
def client(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


@pytest.fixture(params=["sqlite", "postgresql"])
def any_client(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[TestClient]:
    """A client over a SQLite file store or the real PostgreSQL store."""
    if request.param == "sqlite":
        settings = Settings(
            db=request.getfixturevalue("sqlite_url"), rule_pack=None, tick_seconds=0
        )
    else:
        schema = request.getfixturevalue("pg_clean_schema")
        settings = Settings(db=request.getfixturevalue("pg_url"), db_schema=schema, tick_seconds=0)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


# --- CRUD ----------------------------------------------------------------------------


def test_root_lists_useful_urls(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["docs"] == "/docs"
    assert body["rules"] == "/cep/rules"
    assert client.get(body["docs"]).status_code == 200


def test_guide_rules_round_trip(any_client: TestClient) -> None:
    """Lab 11: what is posted is what GET returns (plus rule_id/version/timestamps)."""
    files = guide_files()
    assert files, f"no guide rules in {GUIDE_RULES}"
    for file in files:
        posted = json.loads(file.read_text(encoding="utf-8"))
        created = any_client.post("/cep/rules", json=posted)
        assert created.status_code == 201, (file.name, created.json())
        rule = created.json()
        assert without_metadata(rule) == posted, file.name
        assert rule["version"] == 1
        assert rule["created_at"] == rule["updated_at"] == "2026-02-08T10:30:00+00:00"
        fetched = any_client.get(f"/cep/rules/{rule['rule_id']}")
        assert fetched.status_code == 200
        assert fetched.json() == rule, file.name
        # key order survives too (the JSON editor shows it as written)
        assert list(without_metadata(fetched.json())) == list(posted), file.name
        assert any_client.delete(f"/cep/rules/{rule['rule_id']}").status_code == 204


def test_crud_cycle(any_client: TestClient, clock: FakeClock) -> None:
    created = any_client.post("/cep/rules", json=metric_rule()).json()
    rule_id = created["rule_id"]
    listed = any_client.get("/cep/rules").json()
    assert listed == {"rules": [created], "total": 1}

    clock.advance(90)
    changed = metric_rule(is_active=True)
    replaced = any_client.put(f"/cep/rules/{rule_id}", json=changed)
    assert replaced.status_code == 200
    assert replaced.json()["version"] == 2
    assert replaced.json()["updated_at"] == "2026-02-08T10:31:30+00:00"
    assert replaced.json()["created_at"] == created["created_at"]
    assert without_metadata(any_client.get(f"/cep/rules/{rule_id}").json()) == changed

    versions = any_client.get(f"/cep/rules/{rule_id}/versions").json()
    assert versions["total"] == 2
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    assert versions["versions"][0]["document"] == metric_rule()
    assert versions["versions"][1]["document"] == changed

    assert any_client.get("/cep/rules", params={"active": "true"}).json()["total"] == 1
    assert any_client.get("/cep/rules", params={"active": "false"}).json()["total"] == 0

    deleted = any_client.delete(f"/cep/rules/{rule_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert any_client.get(f"/cep/rules/{rule_id}").status_code == 404
    assert any_client.get("/cep/rules").json() == {"rules": [], "total": 0}


def test_list_filters_on_is_active(client: TestClient) -> None:
    client.post("/cep/rules", json=metric_rule("off"))
    client.post("/cep/rules", json=lab2_rule())
    assert [r["rule_name"] for r in client.get("/cep/rules").json()["rules"]] == [
        "off",
        "critical_error_event",
    ]
    active = client.get("/cep/rules?active=true").json()
    assert [r["rule_name"] for r in active["rules"]] == ["critical_error_event"]
    inactive = client.get("/cep/rules?active=false").json()
    assert [r["rule_name"] for r in inactive["rules"]] == ["off"]
    bad = client.get("/cep/rules?active=maybe")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "active"]


def test_unknown_rule_is_404(client: TestClient) -> None:
    for method, suffix in [
        ("GET", ""),
        ("DELETE", ""),
        ("GET", "/versions"),
        ("POST", "/simulate"),
    ]:
        answer = client.request(method, f"/cep/rules/rule_000000000000{suffix}")
        assert answer.status_code == 404, (method, suffix)
        assert answer.json() == {"detail": "rule 'rule_000000000000' not found"}
    answer = client.put("/cep/rules/rule_000000000000", json=metric_rule())
    assert answer.status_code == 404


def test_duplicate_rule_name_is_409(client: TestClient) -> None:
    assert client.post("/cep/rules", json=metric_rule()).status_code == 201
    again = client.post("/cep/rules", json=metric_rule(description="again"))
    assert again.status_code == 409
    assert "cpu_high_alert" in again.json()["detail"]
    other = client.post("/cep/rules", json=metric_rule("other")).json()
    renamed = client.put(f"/cep/rules/{other['rule_id']}", json=metric_rule())
    assert renamed.status_code == 409
    assert client.get(f"/cep/rules/{other['rule_id']}").json() == other


def test_metadata_keys_in_a_body_are_ignored(client: TestClient) -> None:
    """GET, edit, PUT the whole thing back: the server owns rule_id/version/timestamps."""
    created = client.post("/cep/rules", json={**metric_rule(), "rule_id": "mine"}).json()
    assert created["rule_id"] != "mine"
    edited = {**created, "description": "edited", "version": 99}
    replaced = client.put(f"/cep/rules/{created['rule_id']}", json=edited)
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["version"] == 2
    assert without_metadata(replaced.json()) == metric_rule(description="edited")


# --- validation ------------------------------------------------------------------------


def test_invalid_op_names_its_json_path(client: TestClient) -> None:
    document = metric_rule()
    document["composite_condition"]["conditions"][0]["op"] = "gt"
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert [item["path"] for item in detail] == ["composite_condition.conditions[0].op"]
    assert detail[0]["loc"] == ["composite_condition", "conditions", 0, "op"]
    assert set(detail[0]) == {"loc", "path", "msg", "type"}
    assert client.get("/cep/rules").json()["total"] == 0


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("rule_name"), "rule_name"),
        (lambda d: d.update(trigger_type="sometimes"), "trigger_type"),
        (lambda d: d["window_config"].update(size="7q"), "window_config.size"),
        (
            lambda d: d["composite_condition"]["conditions"].append({"field": "x", "op": "gt"}),
            "composite_condition.conditions[2].op",
        ),
    ],
)
def test_invalid_documents_answer_422_with_paths(
    client: TestClient, mutate: Any, path: str
) -> None:
    document = metric_rule()
    mutate(document)
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 422, answer.json()
    assert path in [item["path"] for item in answer.json()["detail"]]


@pytest.mark.parametrize("body", [[], "rule", 42, None])
def test_non_object_body_is_422_at_the_root(client: TestClient, body: Any) -> None:
    answer = client.post(
        "/cep/rules", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert len(detail) == 1
    assert detail[0]["path"] == ""
    assert detail[0]["loc"] == []


def test_empty_body_is_422(client: TestClient) -> None:
    answer = client.post("/cep/rules", content=b"")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "missing"
    assert answer.json()["detail"][0]["path"] == ""


def test_malformed_json_is_422(client: TestClient) -> None:
    answer = client.post(
        "/cep/rules", content=b'{"rule_name": ', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"


def test_invalid_put_leaves_the_rule_unchanged(any_client: TestClient) -> None:
    created = any_client.post("/cep/rules", json=metric_rule()).json()
    before = any_client.get(f"/cep/rules/{created['rule_id']}").json()
    broken = metric_rule()
    broken["composite_condition"]["conditions"][1]["op"] = "gt"
    answer = any_client.put(f"/cep/rules/{created['rule_id']}", json=broken)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "composite_condition.conditions[1].op"
    assert any_client.put(f"/cep/rules/{created['rule_id']}", json=[1]).status_code == 422
    assert any_client.get(f"/cep/rules/{created['rule_id']}").json() == before
    assert any_client.get(f"/cep/rules/{created['rule_id']}/versions").json()["total"] == 1


# --- form, simulate ---------------------------------------------------------------------


def test_form_endpoint_creates_the_rule(client: TestClient) -> None:
    """Lab 8 step 10: POST /cep/rules/form answers "Rule created from form."."""
    document = metric_rule("production_server_monitor")
    answer = client.post("/cep/rules/form", json=document)
    assert answer.status_code == 201
    body = answer.json()
    assert body["message"] == "Rule created from form."
    assert without_metadata(body["rule"]) == document
    assert client.get(f"/cep/rules/{body['rule']['rule_id']}").json() == body["rule"]
    broken = metric_rule("x")
    broken["composite_condition"]["conditions"][0]["op"] = "gt"
    invalid = client.post("/cep/rules/form", json=broken)
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["path"] == "composite_condition.conditions[0].op"
    assert client.post("/cep/rules/form", json=document).status_code == 409


def test_lab2_simulate_through_the_api(client: TestClient) -> None:
    rule_id = client.post("/cep/rules", json=lab2_rule()).json()["rule_id"]
    critical = client.post(
        f"/cep/rules/{rule_id}/simulate",
        json={
            "payload": {
                "severity": "critical",
                "service": "api-gateway",
                "summary": "Connection pool exhausted",
                "timestamp": "2026-02-08T10:30:00Z",
            }
        },
    )
    assert critical.status_code == 200
    result = critical.json()
    assert result["matched"] is True
    assert result["condition_evaluated"] is True
    assert result["triggered_actions"] == ["webhook", "notify"]
    assert result["extracted_value"] == "critical"
    assert {"errors", "explain"} <= set(result)

    warning = client.post(
        f"/cep/rules/{rule_id}/simulate",
        json={
            "payload": {
                "severity": "warning",
                "service": "api-gateway",
                "summary": "High latency detected",
                "timestamp": "2026-02-08T10:31:00Z",
            }
        },
    )
    assert warning.status_code == 200
    assert warning.json()["matched"] is False
    assert warning.json()["triggered_actions"] == []


def test_simulate_payload_defaults_to_empty(client: TestClient) -> None:
    rule_id = client.post("/cep/rules", json=lab2_rule()).json()["rule_id"]
    for answer in (
        client.post(f"/cep/rules/{rule_id}/simulate"),
        client.post(f"/cep/rules/{rule_id}/simulate", json={}),
    ):
        assert answer.status_code == 200, answer.json()
        assert answer.json()["matched"] is False
        assert answer.json()["triggered_actions"] == []


@pytest.mark.parametrize("payload", [[1, 2], "critical", 3])
def test_simulate_non_object_payload_is_422(client: TestClient, payload: Any) -> None:
    rule_id = client.post("/cep/rules", json=lab2_rule()).json()["rule_id"]
    answer = client.post(f"/cep/rules/{rule_id}/simulate", json={"payload": payload})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert [item["path"] for item in detail] == ["payload"]
    assert detail[0]["loc"] == ["body", "payload"]


def test_simulate_rejects_a_bare_payload(client: TestClient) -> None:
    """Sending the event itself instead of {"payload": ...} is a mistake worth naming."""
    rule_id = client.post("/cep/rules", json=lab2_rule()).json()["rule_id"]
    answer = client.post(f"/cep/rules/{rule_id}/simulate", json={"severity": "critical"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "severity"


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_POST(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    do_GET = do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_target() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that records every request it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.hits  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_simulate_never_runs_an_action(
    client: TestClient, webhook_target: tuple[str, list[str]]
) -> None:
    url, hits = webhook_target
    rule_id = client.post("/cep/rules", json=lab2_rule(endpoint=url)).json()["rule_id"]
    payload = {"severity": "critical", "service": "api-gateway", "summary": "boom"}
    answer = client.post(f"/cep/rules/{rule_id}/simulate", json={"payload": payload})
    assert answer.json()["triggered_actions"] == ["webhook", "notify"]
    assert hits == []


# --- lifecycle, settings, startup pack --------------------------------------------------


def test_rules_survive_an_app_restart(settings: Settings, clock: FakeClock) -> None:
    with TestClient(create_app(settings, clock=clock)) as first:
        created = first.post("/cep/rules", json=metric_rule()).json()
    with TestClient(create_app(settings, clock=clock)) as second:
        assert second.get(f"/cep/rules/{created['rule_id']}").json() == created
        assert second.get("/cep/rules").json()["total"] == 1


def test_startup_loads_the_rule_pack_once(sqlite_url: str, clock: FakeClock) -> None:
    pack = sorted(RULE_PACK.glob("*.json"))
    assert len(pack) == 5
    names = [json.loads(p.read_text(encoding="utf-8"))["rule_name"] for p in pack]
    settings = Settings(db=sqlite_url, rule_pack=RULE_PACK, tick_seconds=0)
    for _ in range(2):
        with TestClient(create_app(settings, clock=clock)) as client:
            listed = client.get("/cep/rules").json()
            assert listed["total"] == 5
            assert sorted(r["rule_name"] for r in listed["rules"]) == sorted(names)
            assert all(r["version"] == 1 for r in listed["rules"])


def test_startup_skips_bad_pack_files_and_keeps_existing_rules(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "a_good.json").write_text(json.dumps(lab2_rule()), encoding="utf-8")
    (pack / "b_not_json.json").write_text("{ nope", encoding="utf-8")
    broken = metric_rule("broken")
    broken["composite_condition"]["conditions"][0]["op"] = "gt"
    (pack / "c_invalid.json").write_text(json.dumps(broken), encoding="utf-8")
    (pack / "d_list.json").write_text("[1, 2]", encoding="utf-8")
    (pack / "e_taken.json").write_text(
        json.dumps(metric_rule(description="from the pack")), encoding="utf-8"
    )
    (pack / "f_bad_utf8.json").write_bytes(b'{"rule_name": "\xff"}')

    with create_store(sqlite_url, clock=clock) as store:
        kept = store.create(metric_rule(description="mine"))

    settings = Settings(db=sqlite_url, rule_pack=pack, tick_seconds=0)
    with (
        caplog.at_level("WARNING", logger="server.app"),
        TestClient(create_app(settings, clock=clock)) as client,
    ):
        rules = client.get("/cep/rules").json()["rules"]
    assert sorted(r["rule_name"] for r in rules) == ["cpu_high_alert", "critical_error_event"]
    assert next(r for r in rules if r["rule_name"] == "cpu_high_alert") == kept.public()
    warned = caplog.text
    for name in ("b_not_json.json", "c_invalid.json", "d_list.json", "f_bad_utf8.json"):
        assert name in warned, name


def test_missing_rule_pack_does_not_stop_startup(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(db=sqlite_url, rule_pack=tmp_path / "nowhere", tick_seconds=0)
    with TestClient(create_app(settings)) as client:
        assert client.get("/cep/rules").json()["total"] == 0


def test_a_given_store_is_used_and_left_open(sqlite_url: str, clock: FakeClock) -> None:
    with create_store(sqlite_url, clock=clock) as store:
        with TestClient(create_app(store=store, clock=clock)) as client:
            rule_id = client.post("/cep/rules", json=lab2_rule()).json()["rule_id"]
        assert store.get(rule_id).rule_name == "critical_error_event"  # still open


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CEPKIT_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("CEPKIT_RULE_PACK", str(RULE_PACK))
    monkeypatch.setenv("CEPKIT_PORT", "9123")
    settings = Settings()
    assert settings.db == f"sqlite:///{tmp_path / 'env.db'}"
    assert settings.rule_pack == RULE_PACK
    assert settings.port == 9123
    assert Settings(db="sqlite:///./cepkit.db").db == "sqlite:///./cepkit.db"


def test_openapi_documents_the_rule_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "RuleDocument" in schemas
    for path, method in [
        ("/cep/rules", "post"),
        ("/cep/rules/form", "post"),
        ("/cep/rules/{rule_id}", "put"),
    ]:
        body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == "#/components/schemas/RuleDocument"
    assert "rules" in spec["paths"]["/cep/rules"]["get"]["tags"]

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    for ref in refs(spec):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_rules_the_engine_cannot_run_are_rejected_with_their_path(client: Any) -> None:
    document = {
        "rule_name": "mixed",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": {"type": "avg", "field": "cpu", "outputAlias": "avg_cpu"},
        "composite_condition": {
            "conditions": [
                {"field": "avg_cpu", "op": ">", "value": 1},
                {"field": "memory", "op": ">", "value": 1},
            ]
        },
    }
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["path"] == "composite_condition"
    assert "mixes window values (avg_cpu) with event fields (memory)" in problem["msg"]
