"""SqlRuleStore over SQLite (file) and PostgreSQL (real server, own schema)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from cepkit.clock import FakeClock
from cepkit.errors import RuleConflict, RuleNotFound, RuleValidationError, StoreError
from cepkit.store import RuleStore, SqlRuleStore, StoredRule, create_store
from cepkit.store.sql import metadata

KOREAN_RULE: dict[str, Any] = {
    "rule_name": "production_server_monitor",
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
            {"field": "memory_percent", "op": ">", "value": 70.25},
        ],
        "logic": "AND",
    },
    "actions": [
        {
            "type": "notify",
            "channels": ["Slack", "Email"],
            "message": (
                "서버 CPU 사용률이 임계치를 초과했습니다. host={{host}}, cpu={{cpu_usage}}% 🚨"
            ),
        }
    ],
    "zz_unicode_key_한글": [None, True, 0, -1.5e-7, 12345678901234567890, "\u0000\t\"'\\"],
}


def rule(name: str, **extra: Any) -> dict[str, Any]:
    return {"rule_name": name, "trigger_type": "event", **extra}


def dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def test_satisfies_the_protocol(store: SqlRuleStore) -> None:
    assert isinstance(store, RuleStore)


def test_unicode_document_round_trips_byte_identical(store: SqlRuleStore) -> None:
    created = store.create(KOREAN_RULE)
    fetched = store.get(created.rule_id)
    assert fetched.document == KOREAN_RULE
    assert dumps(fetched.document) == dumps(KOREAN_RULE)  # same keys, order, text
    assert dumps(created.document) == dumps(KOREAN_RULE)
    assert list(fetched.document) == list(KOREAN_RULE)
    assert dumps(store.list()[0].document) == dumps(KOREAN_RULE)


def test_create_assigns_id_version_and_clock_timestamps(
    store: SqlRuleStore, clock: FakeClock
) -> None:
    created = store.create(rule("a"))
    assert re.fullmatch(r"rule_[0-9a-f]{12}", created.rule_id)
    assert created.version == 1
    assert created.created_at == created.updated_at == clock.now()
    assert created.created_at.tzinfo is not None
    assert created == store.get(created.rule_id)
    assert created.public() == {
        **rule("a"),
        "rule_id": created.rule_id,
        "version": 1,
        "created_at": "2026-02-08T10:30:00+00:00",
        "updated_at": "2026-02-08T10:30:00+00:00",
    }


def test_rule_id_inside_a_document_is_dropped(store: SqlRuleStore) -> None:
    created = store.create({"rule_id": "mine", **rule("a")})
    assert created.rule_id != "mine"
    assert "rule_id" not in store.get(created.rule_id).document
    updated = store.update(created.rule_id, {"rule_id": "other", **rule("a", x=1)})
    assert updated.rule_id == created.rule_id
    assert updated.document == rule("a", x=1)


def test_timestamps_are_kept_as_utc_instants(store: SqlRuleStore) -> None:
    seoul = timezone(timedelta(hours=9))
    store._clock = FakeClock(datetime(2026, 2, 8, 19, 30, 0, 123456, tzinfo=seoul))
    created = store.create(rule("a"))
    fetched = store.get(created.rule_id)
    assert fetched.created_at == datetime(2026, 2, 8, 10, 30, 0, 123456, tzinfo=UTC)
    assert fetched.created_at.utcoffset() == timedelta(0)


def test_update_bumps_version_and_records_history(store: SqlRuleStore, clock: FakeClock) -> None:
    created = store.create(rule("a", severity="high"))
    clock.advance(60)
    second = store.update(created.rule_id, rule("a", severity="critical"))
    clock.advance(60)
    third = store.update(created.rule_id, rule("a2", severity="low"))
    assert (second.version, third.version) == (2, 3)
    assert third.created_at == created.created_at
    assert third.updated_at == created.created_at + timedelta(minutes=2)
    assert store.get(created.rule_id).document == rule("a2", severity="low")

    history = store.versions(created.rule_id)
    assert [v.version for v in history] == [1, 2, 3]
    assert [v.document["severity"] for v in history] == ["high", "critical", "low"]
    assert [v.created_at - created.created_at for v in history] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]
    assert history[0].public()["created_at"] == "2026-02-08T10:30:00+00:00"


def test_duplicate_rule_name_conflicts(store: SqlRuleStore) -> None:
    first = store.create(rule("cpu_high_alert"))
    with pytest.raises(RuleConflict, match="cpu_high_alert"):
        store.create(rule("cpu_high_alert", description="again"))
    other = store.create(rule("memory_high"))
    with pytest.raises(RuleConflict, match="cpu_high_alert"):
        store.update(other.rule_id, rule("cpu_high_alert"))
    # the failed writes left nothing behind
    assert [r.rule_name for r in store.list()] == ["cpu_high_alert", "memory_high"]
    assert store.get(other.rule_id).version == 1
    assert len(store.versions(other.rule_id)) == 1
    # keeping one's own name is fine
    assert store.update(first.rule_id, rule("cpu_high_alert", x=1)).version == 2


def test_unknown_ids_raise_rule_not_found(store: SqlRuleStore) -> None:
    for call in (
        lambda: store.get("rule_000000000000"),
        lambda: store.update("rule_000000000000", rule("a")),
        lambda: store.delete("rule_000000000000"),
        lambda: store.versions("rule_000000000000"),
    ):
        with pytest.raises(RuleNotFound) as info:
            call()
        assert str(info.value) == "rule 'rule_000000000000' not found"
        assert isinstance(info.value, StoreError)


def test_delete_removes_rule_and_history_and_frees_the_name(store: SqlRuleStore) -> None:
    created = store.create(rule("a"))
    store.update(created.rule_id, rule("a", x=1))
    store.delete(created.rule_id)
    with pytest.raises(RuleNotFound):
        store.get(created.rule_id)
    with pytest.raises(RuleNotFound):
        store.versions(created.rule_id)
    assert store.list() == []
    assert store.create(rule("a")).version == 1


def test_list_in_creation_order_with_active_filter(store: SqlRuleStore) -> None:
    on = store.create(rule("on", is_active=True))
    off = store.create(rule("off", is_active=False))
    default = store.create(rule("default"))
    assert [r.rule_id for r in store.list()] == [on.rule_id, off.rule_id, default.rule_id]
    # a missing is_active means inactive, as in the rule model
    assert [r.rule_name for r in store.list(active=True)] == ["on"]
    assert [r.rule_name for r in store.list(active=False)] == ["off", "default"]
    store.update(off.rule_id, rule("off", is_active=True))
    store.update(default.rule_id, rule("default", is_active="true"))
    assert store.list(active=False) == []


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"trigger_type": "event"}, "rule_name"),
        ({"rule_name": ""}, "rule_name"),
        ({"rule_name": 7}, "rule_name"),
        ({"rule_name": "n", "threshold": float("nan")}, ""),
    ],
)
def test_documents_the_store_cannot_keep(
    store: SqlRuleStore, document: dict[str, Any], path: str
) -> None:
    with pytest.raises(RuleValidationError) as info:
        store.create(document)
    assert [p.path for p in info.value.problems] == [path]
    assert store.list() == []


def test_concurrent_creates_with_one_name_yield_one_rule(store: SqlRuleStore) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            store.create(rule("contended", worker=index))
            result = "created"
        except RuleConflict:
            result = "conflict"
        except StoreError as exc:  # pragma: no cover - reported below
            result = f"error: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
    assert len(store.list()) == 1


def test_sqlite_rules_survive_reopening(sqlite_url: str, clock: FakeClock) -> None:
    store = create_store(sqlite_url, clock=clock)
    created = store.create(KOREAN_RULE)
    store.update(created.rule_id, {**KOREAN_RULE, "is_active": True})
    store.close()

    reopened = create_store(sqlite_url, clock=clock)
    try:
        fetched = reopened.get(created.rule_id)
        assert fetched.version == 2
        assert dumps(fetched.document) == dumps({**KOREAN_RULE, "is_active": True})
        assert [v.version for v in reopened.versions(created.rule_id)] == [1, 2]
        with pytest.raises(RuleConflict):
            reopened.create(KOREAN_RULE)
    finally:
        reopened.close()


def test_sqlite_file_is_in_wal_mode_and_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "rules.db"
    store = create_store(str(path))  # a bare path means a SQLite file
    try:
        store.create(rule("a"))
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        stored = conn.execute("SELECT document FROM rules").fetchone()[0]
    conn.close()
    assert stored == json.dumps(rule("a"), ensure_ascii=False)


def test_postgres_tables_live_in_the_given_schema(
    pg_store: SqlRuleStore, pg_schema: str, pg_url: str
) -> None:
    pg_store.create(rule("a"))
    engine = sqlalchemy.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            names = sqlalchemy.inspect(conn).get_table_names(schema=pg_schema)
            count = conn.execute(
                sqlalchemy.text(f'SELECT count(*) FROM "{pg_schema}".rules')
            ).scalar()
    finally:
        engine.dispose()
    assert sorted(names) == sorted(table.name for table in metadata.sorted_tables)
    assert {"rules", "rule_versions", "events"} <= set(names)
    assert count == 1


def test_unreachable_database_is_a_store_error(clock: FakeClock) -> None:
    with pytest.raises(StoreError, match="could not create the tables") as info:
        create_store("postgresql+psycopg://postgres@127.0.0.1:1/test", clock=clock)
    assert info.value.__cause__ is not None


def test_bad_url_is_a_store_error(clock: FakeClock) -> None:
    with pytest.raises(StoreError, match="could not open the database"):
        SqlRuleStore("nosuchdialect://x", clock=clock)


def test_stored_rule_is_frozen(store: SqlRuleStore) -> None:
    created = store.create(rule("a"))
    with pytest.raises(ValueError, match="frozen"):
        created.version = 5  # type: ignore[misc]
    assert isinstance(created, StoredRule)


def test_tenants_own_their_rules(store: SqlRuleStore) -> None:
    mine = store.create(rule("shared_name"), tenant="acme")
    theirs = store.create(rule("shared_name"), tenant="globex")  # same name, other tenant
    assert (mine.tenant, theirs.tenant) == ("acme", "globex")
    assert [r.rule_id for r in store.list(tenant="acme")] == [mine.rule_id]
    assert len(store.list()) == 2
    with pytest.raises(RuleNotFound):
        store.get(theirs.rule_id, tenant="acme")
    with pytest.raises(RuleNotFound):
        store.update(theirs.rule_id, rule("shared_name"), tenant="acme")
    with pytest.raises(RuleNotFound):
        store.delete(theirs.rule_id, tenant="acme")
    with pytest.raises(RuleConflict):
        store.create(rule("shared_name"), tenant="acme")
    assert store.update(mine.rule_id, rule("shared_name"), tenant="acme").version == 2


V1_SCHEMA = """
CREATE TABLE rules (
    seq INTEGER NOT NULL, rule_id VARCHAR(64) NOT NULL, rule_name VARCHAR NOT NULL,
    is_active BOOLEAN NOT NULL, version INTEGER NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (seq), UNIQUE (rule_id), CONSTRAINT uq_rules_rule_name UNIQUE (rule_name)
);
CREATE TABLE rule_versions (
    rule_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL, created_at DATETIME NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (rule_id, version),
    FOREIGN KEY(rule_id) REFERENCES rules (rule_id) ON DELETE CASCADE
);
INSERT INTO rules VALUES (1, 'rule_aaaaaaaaaaaa', 'old_rule', 1, 2,
    '2026-02-01 00:00:00', '2026-02-02 00:00:00', '{"rule_name": "old_rule"}');
INSERT INTO rule_versions VALUES ('rule_aaaaaaaaaaaa', 1, '2026-02-01 00:00:00', '{"v": 1}');
INSERT INTO rule_versions VALUES ('rule_aaaaaaaaaaaa', 2, '2026-02-02 00:00:00', '{"v": 2}');
"""


def test_a_v1_sqlite_store_is_migrated_without_losing_a_row(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    store = create_store(f"sqlite:///{path}", clock=clock)
    try:
        old = store.get("rule_aaaaaaaaaaaa")
        assert (old.tenant, old.version, old.rule_name) == ("default", 2, "old_rule")
        assert [v.document for v in store.versions(old.rule_id)] == [{"v": 1}, {"v": 2}]
        store.create(rule("old_rule"), tenant="acme")  # the name is now unique per tenant
        with pytest.raises(RuleConflict):
            store.create(rule("old_rule"))
        store.delete(old.rule_id)  # foreign keys still on: the versions go with it
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM rule_versions").fetchone() == (1,)
    reopened = create_store(f"sqlite:///{path}", clock=clock)  # a second open: no-op
    assert [r.tenant for r in reopened.list()] == ["acme"]
    reopened.close()


def test_a_v1_postgres_store_is_migrated(pg_url: str, clock: FakeClock) -> None:
    schema = f"cepkit_v1_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(pg_url)
    ddl = (
        V1_SCHEMA.replace("DATETIME", "TIMESTAMP WITH TIME ZONE")
        .replace("seq INTEGER NOT NULL", "seq SERIAL NOT NULL")
        .replace("'old_rule', 1,", "'old_rule', true,")
    )
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(sqlalchemy.text(f'SET search_path TO "{schema}"'))
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.execute(sqlalchemy.text(statement))
            conn.execute(
                sqlalchemy.text("SELECT setval(pg_get_serial_sequence('rules', 'seq'), 1)")
            )
        store = create_store(pg_url, clock=clock, schema=schema)
        try:
            assert store.get("rule_aaaaaaaaaaaa").tenant == "default"
            assert len(store.versions("rule_aaaaaaaaaaaa")) == 2
            store.create(rule("old_rule"), tenant="acme")
        finally:
            store.close()
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
