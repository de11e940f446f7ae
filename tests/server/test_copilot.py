"""``POST /cep/copilot/draft`` against the app: drafts, bad input by field, keys, and a
ready draft saved through the rules API as it was drafted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.copilot import MAX_TEXT_LENGTH, draft
from server.app import create_app
from server.settings import Settings

GUIDE = "CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    settings = Settings(db=sqlite_url, tick_seconds=0, dashboards=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_guide_sentence_is_drafted_as_the_library_drafts_it(client: TestClient) -> None:
    answer = client.post("/cep/copilot/draft", json={"text": GUIDE})
    assert answer.status_code == 200
    body = answer.json()
    assert body == draft(GUIDE).model_dump(mode="json")
    assert (body["type"], body["status"], body["unparsed"]) == ("cep_draft", "ready", [])
    assert body["rule"]["composite_condition"]["conditions"] == [
        {"field": "cpu_usage", "op": ">", "value": 90},
        {"field": "memory_percent", "op": ">", "value": 80},
    ]


def test_nonsense_needs_input_and_names_what_was_not_understood(client: TestClient) -> None:
    body = client.post("/cep/copilot/draft", json={"text": "바나나가 노랗다"}).json()
    assert body["status"] == "needs_input"
    assert body["unparsed"] == ["바나나가 노랗다"]
    assert body["notes"]


def test_a_ready_draft_is_saved_by_the_rules_api_exactly(client: TestClient) -> None:
    rule = client.post("/cep/copilot/draft", json={"text": "1분 내 에러 5건 이상이면 문자"}).json()
    created = client.post("/cep/rules", json=rule["rule"])
    assert created.status_code == 201, created.text
    stored = client.get(f"/cep/rules/{created.json()['rule_id']}").json()
    assert {k: stored[k] for k in rule["rule"]} == rule["rule"]


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({}, "text", "Field required"),
        ({"text": ""}, "text", "at least 1 character"),
        ({"text": "   "}, "text", "must not be blank"),
        ({"text": "x" * (MAX_TEXT_LENGTH + 1)}, "text", f"at most {MAX_TEXT_LENGTH}"),
        ({"text": 42}, "text", "valid string"),
        ({"text": ["CPU"]}, "text", "valid string"),
        ({"text": "CPU 90", "drafter": "gpt"}, "drafter", "unknown drafter 'gpt'"),
        ({"text": "CPU 90", "model": "x"}, "model", "Extra inputs"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, Any], path: str, message: str
) -> None:
    answer = client.post("/cep/copilot/draft", json=body)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["path"] == path
    assert message in problem["msg"]


def test_a_lone_surrogate_is_a_422_not_a_server_error(client: TestClient) -> None:
    body = b'{"text": "CPU \\ud800 90"}'
    answer = client.post(
        "/cep/copilot/draft", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "text"


def test_a_body_that_is_no_object_is_a_422(client: TestClient) -> None:
    answer = client.post("/cep/copilot/draft", json=["CPU 90"])
    assert answer.status_code == 422


def test_drafting_needs_a_key_when_keys_are_configured(sqlite_url: str) -> None:
    keys = "op-key:operator, admin-key:admin"
    settings = Settings(db=sqlite_url, tick_seconds=0, api_keys=keys, dashboards=False)
    with TestClient(create_app(settings)) as client:
        assert client.post("/cep/copilot/draft", json={"text": GUIDE}).status_code == 401
        for key in ("op-key", "admin-key"):
            answer = client.post(
                "/cep/copilot/draft", json={"text": GUIDE}, headers={"X-API-Key": key}
            )
            assert answer.status_code == 200


def test_the_route_is_documented_with_the_draft_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/cep/copilot/draft"]["post"]
    assert "422" in operation["responses"]
    assert "Draft" in schema["components"]["schemas"]
