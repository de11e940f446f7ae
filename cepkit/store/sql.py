"""Rule documents in SQL, on SQLAlchemy Core: SQLite embedded, PostgreSQL scaled, same code.

Two tables: ``rules`` (the current document per rule, ``rule_name`` unique per tenant) and
``rule_versions`` (one row per create/update). Documents are stored as JSON text,
exactly as given; timestamps come from the injected clock and are kept in UTC.
Nothing connects until the first call; :func:`create_store` creates missing tables.

>>> from datetime import datetime, timezone
>>> from cepkit.clock import FakeClock
>>> clock = FakeClock(datetime(2026, 2, 8, 10, 30, tzinfo=timezone.utc))
>>> with create_store("sqlite:///:memory:", clock=clock) as store:
...     rule = store.create({"rule_name": "cpu_high_alert", "is_active": False})
...     rule = store.update(rule.rule_id, {"rule_name": "cpu_high_alert", "is_active": True})
...     (rule.version, [r.rule_name for r in store.list(active=True)],
...      [v.version for v in store.versions(rule.rule_id)])
(2, ['cpu_high_alert'], [1, 2])
"""

from __future__ import annotations

import builtins
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateSchema, CreateTable
from sqlalchemy.types import TypeDecorator

from cepkit.clock import Clock, SystemClock
from cepkit.errors import Problem, RuleConflict, RuleNotFound, RuleValidationError, StoreError
from cepkit.store.base import RuleVersion, StoredRule

__all__ = [
    "INGEST_SCHEMA",
    "SqlRuleStore",
    "UtcDateTime",
    "create_store",
    "database_url",
    "ingest_file",
    "mapped",
    "metadata",
]

log = logging.getLogger(__name__)

#: the schema the ingest journal's tables are declared in (:mod:`cepkit.store.journal`);
#: the store maps it to the database's own schema, or on a SQLite file to ``ingest``, a
#: second file beside it (:func:`ingest_file`)
INGEST_SCHEMA = "cepkit_ingest"
#: the ingest file's page size: a journalled batch (one row, about 160 bytes an event) is
#: appended and trimmed in about a third of the time 4 KiB pages take, while the main
#: file keeps small pages for its small rows and commits
INGEST_PAGE_SIZE = 32768


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC (naive UTC on SQLite, which has no zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

rules_table = Table(
    "rules",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False, unique=True),
    Column("rule_name", String, nullable=False),
    Column("tenant", String(64), nullable=False, server_default="default"),
    Column("is_active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("document", Text, nullable=False),
    UniqueConstraint("tenant", "rule_name", name="uq_rules_tenant_rule_name"),
)

versions_table = Table(
    "rule_versions",
    metadata,
    Column(
        "rule_id",
        String(64),
        ForeignKey("rules.rule_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("document", Text, nullable=False),
)

_TRUE_STRINGS = frozenset({"true", "t", "yes", "y", "on", "1"})


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a bare file path (which means a SQLite file).

    Plain ``postgresql://`` URLs get the psycopg 3 driver.

    >>> database_url("cepkit.db")
    'sqlite:///cepkit.db'
    >>> database_url("/var/lib/cepkit/rules.db")
    'sqlite:////var/lib/cepkit/rules.db'
    >>> database_url("postgresql://postgres@127.0.0.1:5432/test")
    'postgresql+psycopg://postgres@127.0.0.1:5432/test'
    >>> database_url("sqlite:///./cepkit.db")
    'sqlite:///./cepkit.db'
    """
    text = str(value).strip()
    if "://" not in text:
        return f"sqlite:///{text}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def _new_rule_id() -> str:
    return "rule_" + uuid.uuid4().hex[:12]


def _error_text(exc: SQLAlchemyError) -> str:
    """The backend's message without SQL parameters (documents may hold secrets)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        return lines[0] if lines else type(exc.orig).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@contextmanager
def mapped(action: str) -> Iterator[None]:
    """Map SQLAlchemy's errors to :class:`StoreError` (the library's boundary)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"could not {action}: {_error_text(exc)}") from exc


def _encode(document: Mapping[str, Any]) -> tuple[str, str, bool]:
    """``(json_text, rule_name, is_active)`` of a document, ``rule_id`` dropped."""
    if not isinstance(document, Mapping):
        raise RuleValidationError([Problem(path="", message="a rule document must be an object")])
    doc = {key: value for key, value in document.items() if key != "rule_id"}
    name = doc.get("rule_name")
    if not isinstance(name, str) or not name.strip():
        raise RuleValidationError(
            [
                Problem(
                    path="rule_name",
                    message="rule_name is required (a non-empty string)",
                    loc=("rule_name",),
                )
            ]
        )
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RuleValidationError(
            [Problem(path="", message=f"the document is not plain JSON: {exc}")], rule_name=name
        ) from exc
    return text, name, _is_active(doc.get("is_active"))


def _is_active(value: object) -> bool:
    """A document's ``is_active`` as a bool, read as the rule model does (missing: inactive)."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def ingest_file(url: URL) -> Path | None:
    """The file beside a SQLite database that holds its ingest journal: ``<file>-ingest``
    (with its own ``-wal``); None for SQLite in memory or a ``file:`` URI.

    >>> ingest_file(make_url("sqlite:///data/cepkit.db"))
    PosixPath('data/cepkit.db-ingest')
    >>> ingest_file(make_url("sqlite:///:memory:")) is None
    True
    """
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("uri"):
        return None
    return Path(name + "-ingest")


def _is_new(database: Path) -> bool:
    """Whether the SQLite file is yet to be created (another process starting on it at the
    same time has created it already, even if still empty)."""
    return not database.exists()


def _remove_stale(ingest: Path) -> None:
    """Remove an ingest file left by a database that is gone: its journal and checkpoints
    belong to rules this new database does not have."""
    for path in (ingest, Path(f"{ingest}-wal"), Path(f"{ingest}-shm")):
        if path.exists():
            log.warning("removing %s: its database is new", path)
            path.unlink()


def _raise_conflict_on_integrity(exc: StoreError, name: str) -> None:
    """A unique-constraint race surfaces as :class:`RuleConflict`, like the early check."""
    if isinstance(exc.__cause__, IntegrityError):
        raise RuleConflict(f"a rule named {name!r} already exists") from exc.__cause__


def _stored(row: Row[Any]) -> StoredRule:
    return StoredRule(
        rule_id=row.rule_id,
        tenant=row.tenant,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        document=json.loads(row.document),
    )


class SqlRuleStore:
    """A :class:`~cepkit.store.base.RuleStore` on any SQLAlchemy URL (SQLite, PostgreSQL).

    ``schema`` puts the tables in that PostgreSQL schema. The engine is created here but
    connects lazily; call :meth:`create_tables` (or use :func:`create_store`) once.
    """

    def __init__(self, url: str, *, clock: Clock, schema: str | None = None) -> None:
        self._clock = clock
        self._schema = schema
        self._ingest: Path | None = None
        with mapped("open the database"):
            parsed = make_url(database_url(url))
            if parsed.get_backend_name() == "sqlite":
                self._ingest = ingest_file(parsed)
                self._base = self._sqlite_engine(parsed, self._ingest)
            else:
                self._base = create_engine(parsed, pool_pre_ping=True)
        ingest_schema = "ingest" if self._ingest is not None else schema
        self._engine: Engine = self._base.execution_options(
            schema_translate_map={None: schema, INGEST_SCHEMA: ingest_schema}
        )

    @staticmethod
    def _sqlite_engine(url: URL, ingest: Path | None) -> Engine:
        options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if url.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one shared connection, or every call sees a new DB
        if ingest is not None and url.database and _is_new(Path(url.database)):
            _remove_stale(ingest)
        engine = create_engine(url, **options)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a commit survives the process being killed (only an OS
                # crash or power loss may take the last ones); FULL syncs every commit
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=5000")
                if ingest is not None:  # its page size takes only while the file is new
                    cursor.execute("ATTACH DATABASE ? AS ingest", (str(ingest),))
                    cursor.execute(f"PRAGMA ingest.page_size={INGEST_PAGE_SIZE}")
                    cursor.execute("PRAGMA ingest.journal_mode=WAL")
                    cursor.execute("PRAGMA ingest.synchronous=NORMAL")
            finally:
                cursor.close()

        event.listen(engine, "connect", on_connect)
        return engine

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (schema-mapped), shared by the event, log and journal stores."""
        return self._engine

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self._base.dialect.name

    @property
    def ingest_path(self) -> Path | None:
        """The SQLite file holding the ingest journal beside a SQLite store (None: the
        journal is in the database itself: PostgreSQL, or SQLite in memory)."""
        return self._ingest

    def create_tables(self) -> None:
        """Create the schema (PostgreSQL) and the tables if they are missing."""
        with mapped("create the tables"), self._engine.begin() as conn:
            if self._schema and self.dialect == "postgresql":
                conn.execute(CreateSchema(self._schema, if_not_exists=True))
            metadata.create_all(conn)
        self._migrate()
        self._move_journal()

    def _move_journal(self) -> None:
        """Move the ingest journal and checkpoints an earlier cepkit kept in the SQLite file
        itself into the ingest file, keeping every row and the journal's ``seq`` counter.

        Each file commits on its own, so the rows are copied (``OR IGNORE``: the same
        ``seq``/name twice is one row) before the old tables are dropped; a move cut short
        is finished by the next start.
        """
        if self._ingest is None:
            return
        with mapped("move the ingest journal"), self._base.begin() as conn:
            found = conn.exec_driver_sql(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                "AND name IN ('ingest_journal', 'runner_checkpoints')"
            ).scalars()
            old = set(found)
            if not old:
                return
            log.warning("moving the ingest journal and checkpoints to %s", self._ingest)
            if "ingest_journal" in old:
                conn.exec_driver_sql(
                    "INSERT OR IGNORE INTO ingest.ingest_journal (seq, kind, at, tenant, body) "
                    "SELECT seq, kind, at, tenant, body FROM main.ingest_journal"
                )
                last = conn.exec_driver_sql(
                    "SELECT seq FROM main.sqlite_sequence WHERE name = 'ingest_journal'"
                ).scalar()
                if last is not None:  # seq never goes back: a checkpoint may cover it
                    conn.exec_driver_sql(
                        "DELETE FROM ingest.sqlite_sequence "
                        "WHERE name = 'ingest_journal' AND seq < ?",
                        (last,),
                    )
                    conn.exec_driver_sql(
                        "INSERT INTO ingest.sqlite_sequence (name, seq) SELECT "
                        "'ingest_journal', ? WHERE NOT EXISTS (SELECT 1 FROM "
                        "ingest.sqlite_sequence WHERE name = 'ingest_journal')",
                        (last,),
                    )
                conn.exec_driver_sql("DROP TABLE main.ingest_journal")
            if "runner_checkpoints" in old:
                conn.exec_driver_sql(
                    "INSERT OR IGNORE INTO ingest.runner_checkpoints (name, seq, state) "
                    "SELECT name, seq, state FROM main.runner_checkpoints"
                )
                conn.exec_driver_sql("DROP TABLE main.runner_checkpoints")

    def _migrate(self) -> None:
        """Bring a store made by an earlier cepkit up to date, keeping every row.

        v1 (no ``tenant``; ``rule_name`` unique over all rules) gets a ``tenant`` column,
        ``default`` for the rules it holds, and uniqueness per tenant. On SQLite the
        table is rebuilt (foreign keys off, so no version row is lost), as SQLite's own
        documentation prescribes for changing a constraint.
        """
        with mapped("migrate the rules table"), self._engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("rules", schema=self._schema)}
        if "tenant" in columns:
            return
        log.warning("migrating the rules table: adding tenants (existing rules: 'default')")
        with mapped("migrate the rules table"):
            if self.dialect == "sqlite":
                self._rebuild_sqlite_rules()
            else:
                table = f'"{self._schema}".rules' if self._schema else "rules"
                with self._engine.begin() as conn:
                    for statement in (
                        f"ALTER TABLE {table} ADD COLUMN tenant VARCHAR(64) "
                        "NOT NULL DEFAULT 'default'",
                        f"ALTER TABLE {table} DROP CONSTRAINT uq_rules_rule_name",
                        f"ALTER TABLE {table} ADD CONSTRAINT uq_rules_tenant_rule_name "
                        "UNIQUE (tenant, rule_name)",
                    ):
                        conn.execute(text(statement))

    def _rebuild_sqlite_rules(self) -> None:
        """SQLite's 12-step table change: new table, copy, drop old, rename new."""
        create = str(CreateTable(rules_table).compile(dialect=self._base.dialect))
        create = create.replace("CREATE TABLE rules ", "CREATE TABLE rules_new ", 1)
        raw = self._base.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            try:
                cursor.execute(create)
                cursor.execute(
                    "INSERT INTO rules_new (seq, rule_id, rule_name, tenant, is_active, version,"
                    " created_at, updated_at, document) SELECT seq, rule_id, rule_name,"
                    " 'default', is_active, version, created_at, updated_at, document FROM rules"
                )
                cursor.execute("DROP TABLE rules")
                cursor.execute("ALTER TABLE rules_new RENAME TO rules")
                problems = cursor.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise StoreError(f"migration left dangling references: {problems[:3]}")
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
        finally:
            raw.close()

    # --- reads ---------------------------------------------------------------------

    def get(self, rule_id: str, *, tenant: str | None = None) -> StoredRule:
        with mapped("read the rule"), self._engine.connect() as conn:
            row = self._row(conn, rule_id, tenant)
        return _stored(row)

    def list(
        self, *, active: bool | None = None, tenant: str | None = None
    ) -> builtins.list[StoredRule]:
        query = select(rules_table).order_by(rules_table.c.seq)
        if active is not None:
            query = query.where(rules_table.c.is_active == active)
        if tenant is not None:
            query = query.where(rules_table.c.tenant == tenant)
        with mapped("list the rules"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_stored(row) for row in rows]

    def versions(self, rule_id: str, *, tenant: str | None = None) -> builtins.list[RuleVersion]:
        query = (
            select(versions_table)
            .where(versions_table.c.rule_id == rule_id)
            .order_by(versions_table.c.version)
        )
        with mapped("read the rule's versions"), self._engine.connect() as conn:
            self._row(conn, rule_id, tenant)
            rows = conn.execute(query).all()
        return [
            RuleVersion(
                rule_id=row.rule_id,
                version=row.version,
                created_at=row.created_at,
                document=json.loads(row.document),
            )
            for row in rows
        ]

    # --- writes --------------------------------------------------------------------

    def create(self, document: Mapping[str, Any], *, tenant: str = "default") -> StoredRule:
        text, name, active = _encode(document)
        now = self._clock.now()
        rule_id = _new_rule_id()
        try:
            with mapped("create the rule"), self._engine.begin() as conn:
                self._check_name_free(conn, name, rule_id, tenant)
                conn.execute(
                    rules_table.insert().values(
                        rule_id=rule_id,
                        rule_name=name,
                        tenant=tenant,
                        is_active=active,
                        version=1,
                        created_at=now,
                        updated_at=now,
                        document=text,
                    )
                )
                self._append_version(conn, rule_id, 1, now, text)
                row = self._row(conn, rule_id, tenant)
        except StoreError as exc:
            _raise_conflict_on_integrity(exc, name)
            raise
        log.info("rule created rule_id=%s rule_name=%s", rule_id, name)
        return _stored(row)

    def update(
        self, rule_id: str, document: Mapping[str, Any], *, tenant: str | None = None
    ) -> StoredRule:
        text, name, active = _encode(document)
        now = self._clock.now()
        try:
            with mapped("update the rule"), self._engine.begin() as conn:
                current = self._row(conn, rule_id, tenant)
                self._check_name_free(conn, name, rule_id, current.tenant)
                version = current.version + 1
                result = conn.execute(
                    rules_table.update()
                    .where(rules_table.c.rule_id == rule_id)
                    .where(rules_table.c.version == current.version)
                    .values(
                        rule_name=name,
                        is_active=active,
                        version=version,
                        updated_at=now,
                        document=text,
                    )
                )
                if result.rowcount != 1:
                    raise RuleConflict(f"rule {rule_id!r} was changed concurrently; try again")
                self._append_version(conn, rule_id, version, now, text)
                row = self._row(conn, rule_id, tenant)
        except StoreError as exc:
            _raise_conflict_on_integrity(exc, name)
            raise
        log.info("rule updated rule_id=%s rule_name=%s version=%d", rule_id, name, version)
        return _stored(row)

    def delete(self, rule_id: str, *, tenant: str | None = None) -> None:
        with mapped("delete the rule"), self._engine.begin() as conn:
            self._row(conn, rule_id, tenant)
            conn.execute(versions_table.delete().where(versions_table.c.rule_id == rule_id))
            conn.execute(rules_table.delete().where(rules_table.c.rule_id == rule_id))
        log.info("rule deleted rule_id=%s", rule_id)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._base.dispose()

    def __enter__(self) -> SqlRuleStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self._base.url.render_as_string(hide_password=True)
        return f"SqlRuleStore({url!r}, schema={self._schema!r})"

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _row(conn: Connection, rule_id: str, tenant: str | None = None) -> Row[Any]:
        query = select(rules_table).where(rules_table.c.rule_id == rule_id)
        if tenant is not None:
            query = query.where(rules_table.c.tenant == tenant)
        row = conn.execute(query).first()
        if row is None:
            raise RuleNotFound(rule_id)
        return row

    @staticmethod
    def _check_name_free(conn: Connection, name: str, rule_id: str, tenant: str) -> None:
        owner = conn.execute(
            select(rules_table.c.rule_id).where(
                rules_table.c.rule_name == name, rules_table.c.tenant == tenant
            )
        ).scalar()
        if owner is not None and owner != rule_id:
            raise RuleConflict(f"a rule named {name!r} already exists ({owner})")

    @staticmethod
    def _append_version(
        conn: Connection, rule_id: str, version: int, when: datetime, text: str
    ) -> None:
        conn.execute(
            versions_table.insert().values(
                rule_id=rule_id, version=version, created_at=when, document=text
            )
        )


def create_store(
    url: str | Path, *, clock: Clock | None = None, schema: str | None = None
) -> SqlRuleStore:
    """Open a store on ``url`` (a URL or a SQLite file path) and create missing tables.

    A SQLite file's folder is created when missing.

    >>> store = create_store("sqlite:///:memory:")
    >>> store.dialect, store.list()
    ('sqlite', [])
    >>> store.close()
    """
    text = database_url(url)
    parsed = make_url(text)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    store = SqlRuleStore(text, clock=clock or SystemClock(), schema=schema)
    try:
        store.create_tables()
    except BaseException:
        store.close()
        raise
    return store
