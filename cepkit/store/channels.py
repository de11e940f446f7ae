"""Channel configurations and their last test, per tenant.

A configuration is validated by the channel's model (:data:`cepkit.channels.CHANNELS`)
before it is stored. Secrets (``SecretStr`` fields) are write-only: :meth:`public`
views mask them, and an update that sends a secret back masked (``"**********"``) or
leaves it out keeps the stored one.

>>> from cepkit.clock import FakeClock
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> channels = ChannelStore(rules.engine, clock=FakeClock())
>>> saved = channels.put("slack", {"webhook_url": "https://hooks.slack.com/services/T/B/x"})
>>> saved.name, saved.public_config()
('Slack', {'webhook_url': '**********'})
>>> channels.config("Slack").webhook_url.get_secret_value()
'https://hooks.slack.com/services/T/B/x'
>>> rules.close()
"""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from sqlalchemy import Column, Engine, Float, Integer, Row, String, Table, Text, select

from cepkit.channels import CHANNELS, ChannelConfig, canonical_channel
from cepkit.clock import Clock, SystemClock
from cepkit.errors import Problem, RuleValidationError
from cepkit.store.sql import UtcDateTime, mapped, metadata

__all__ = ["MASK", "ChannelStore", "StoredChannel"]

MASK = "**********"

channels_table = Table(
    "channel_configs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("config", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("last_test", UtcDateTime, nullable=True),
    Column("last_status", String(16), nullable=True),
    Column("last_message", Text, nullable=True),
    Column("last_latency_ms", Float, nullable=True),
)


class StoredChannel(BaseModel):
    """One channel of one tenant: its configuration (if any) and its last test."""

    model_config = ConfigDict(frozen=True)

    name: str
    tenant: str = "default"
    config: dict[str, Any] | None = None
    updated_at: datetime | None = None
    last_test: datetime | None = None
    last_status: str | None = None
    last_message: str | None = None
    last_latency_ms: float | None = None

    @property
    def configured(self) -> bool:
        """Whether a configuration is stored."""
        return self.config is not None

    def model(self) -> ChannelConfig | None:
        """The configuration as its channel model (None when not configured)."""
        if self.config is None:
            return None
        return CHANNELS[self.name].model_validate(self.config)

    def public_config(self) -> dict[str, Any] | None:
        """The configuration with every secret masked."""
        model = self.model()
        if model is None:
            return None
        return _masked(model)

    @property
    def status(self) -> str:
        """``not_configured``, ``untested``, or the last test's ``ok`` / ``error``."""
        if not self.configured:
            return "not_configured"
        return self.last_status or "untested"


def _masked(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, SecretStr):
            out[key] = MASK
        elif isinstance(value, dict):
            out[key] = {k: MASK if isinstance(v, SecretStr) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


def _plain(model: BaseModel) -> dict[str, Any]:
    """Every field with secrets revealed, by alias (what is stored)."""
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, SecretStr):
            out[key] = value.get_secret_value()
        elif isinstance(value, dict):
            out[key] = {
                k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in value.items()
            }
        else:
            out[key] = value
    return out


def _keep_secrets(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Masked or missing secrets in ``new`` take their stored value from ``old``."""
    if not old:
        return new
    merged = dict(new)
    for key, value in old.items():
        if key not in merged or merged[key] == MASK:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = {k: value.get(k, v) if v == MASK else v for k, v in merged[key].items()}
    return merged


def _channel(row: Row[Any]) -> StoredChannel:
    return StoredChannel(
        name=row.name,
        tenant=row.tenant,
        config=json.loads(row.config) if row.config else None,
        updated_at=row.updated_at,
        last_test=row.last_test,
        last_status=row.last_status,
        last_message=row.last_message,
        last_latency_ms=row.last_latency_ms,
    )


class ChannelStore:
    """Channel configurations and test results on the rule store's SQL engine."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock if clock is not None else SystemClock()

    def put(self, name: str, config: Any, *, tenant: str = "default") -> StoredChannel:
        """Validate and store a channel's configuration (masked secrets keep the old ones).

        Raises :class:`~cepkit.errors.RuleValidationError` with ``config.<field>`` paths.
        """
        canonical = _canonical(name)
        if not isinstance(config, dict):
            raise RuleValidationError(
                [Problem(path="config", message="config must be a JSON object", loc=("config",))]
            )
        current = self.get(canonical, tenant=tenant)
        merged = _keep_secrets(config, current.config)
        try:
            model = CHANNELS[canonical].model_validate(merged)
        except ValidationError as exc:
            raise RuleValidationError(
                [
                    Problem(
                        path=".".join(["config", *(str(p) for p in error["loc"])]),
                        message=error["msg"],
                        type=error["type"],
                        loc=("config", *error["loc"]),
                    )
                    for error in exc.errors()
                ]
            ) from None
        text = json.dumps(_plain(model), ensure_ascii=False)
        now = self._clock.now()
        c = channels_table.c
        with mapped("store the channel"), self._engine.begin() as conn:
            done = conn.execute(
                channels_table.update()
                .where(c.tenant == tenant, c.name == canonical)
                .values(config=text, updated_at=now, last_status=None)
            )
            if done.rowcount == 0:
                conn.execute(
                    channels_table.insert().values(
                        tenant=tenant, name=canonical, config=text, updated_at=now
                    )
                )
        return self.get(canonical, tenant=tenant)

    def record_test(
        self,
        name: str,
        *,
        status: str,
        message: str,
        latency_ms: float,
        tenant: str = "default",
    ) -> StoredChannel:
        """Remember a channel's last test (also for a channel not configured yet)."""
        canonical = _canonical(name)
        values = {
            "last_test": self._clock.now(),
            "last_status": status,
            "last_message": message,
            "last_latency_ms": latency_ms,
        }
        c = channels_table.c
        with mapped("record the channel test"), self._engine.begin() as conn:
            done = conn.execute(
                channels_table.update()
                .where(c.tenant == tenant, c.name == canonical)
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(
                    channels_table.insert().values(tenant=tenant, name=canonical, **values)
                )
        return self.get(canonical, tenant=tenant)

    def get(self, name: str, *, tenant: str = "default") -> StoredChannel:
        """The channel (not configured and untested when nothing is stored)."""
        canonical = _canonical(name)
        c = channels_table.c
        with mapped("read the channel"), self._engine.connect() as conn:
            row = conn.execute(
                select(channels_table).where(c.tenant == tenant, c.name == canonical)
            ).first()
        return _channel(row) if row is not None else StoredChannel(name=canonical, tenant=tenant)

    def all(self, *, tenant: str = "default") -> builtins.list[StoredChannel]:
        """Every known channel type, in registry order, configured or not."""
        return [self.get(name, tenant=tenant) for name in CHANNELS]

    def config(self, name: str, *, tenant: str = "default") -> ChannelConfig | None:
        """The channel's configuration model, or None (what the dispatcher asks for)."""
        return self.get(name, tenant=tenant).model()


def _canonical(name: str) -> str:
    try:
        return canonical_channel(name)
    except ValueError as exc:
        raise RuleValidationError(
            [Problem(path="channel", message=str(exc), loc=("channel",))]
        ) from None
