"""The channels page's state (``/cep-channels``, guide Lab 6 and Lab 12).

:class:`ChannelsState` shows every channel's status (configured, last test, message,
latency, circuit breaker), edits one channel's configuration in a form whose fields
come from the channel's configuration model (:data:`cepkit.channels.CHANNELS`), sends
test messages and retries dead letters, all through :class:`cepkit.client.Client`.

Secrets are write-only: the server answers them masked (``**********``), the form shows
that mask, and a mask sent back keeps the stored secret; only a new value replaces it.
Values the form cannot read are refused with the JSON path the server would name
(``config.smtp_port``); the server's own 422 problems are shown the same way.
Nothing here imports Panel; its I/O methods block (a view calls them off its loop).

>>> [(f.key, f.kind) for f in config_fields("Email")][:4]
[('smtp_host', 'text'), ('smtp_port', 'int'), ('username', 'text'), ('password', 'secret')]
>>> config_from_texts("Email", {"smtp_host": "mx", "smtp_port": "x25", "from": "a@b", "to": "c@d"})
Traceback (most recent call last):
...
ValueError: config.smtp_port: expected a whole number, got 'x25'
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

import pandas as pd
import param
from pydantic import BaseModel, ConfigDict, SecretStr

from cepkit.actions.results import ChannelTestResult
from cepkit.channels import CHANNELS
from cepkit.client import Client
from cepkit.errors import ClientError
from cepkit.store.channels import MASK  # what the server answers in place of a secret
from cepkit.store.deliveries import StoredDeadLetter
from server.routes.channels import ChannelStatus

__all__ = [
    "MASK",
    "ChannelsState",
    "FieldKind",
    "FormField",
    "config_fields",
    "config_from_texts",
    "texts_from_config",
]

FieldKind = Literal["text", "secret", "int", "bool", "list", "json"]
STATUS_COLUMNS = (
    "channel",
    "configured",
    "status",
    "last_test",
    "latency_ms",
    "breaker",
    "message",
)
DEAD_LETTER_COLUMNS = ("dead_letter_id", "created_at", "rule_name", "channel", "error", "status")


class FormField(BaseModel):
    """One input of a channel's configuration form."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: FieldKind
    required: bool
    default: str = ""


def _kind(annotation: Any) -> FieldKind:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _kind(args[0])
    origin = typing.get_origin(annotation)
    if annotation is SecretStr:
        return "secret"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if origin is list:
        return "list"
    if origin is dict or annotation is dict:
        return "json"
    return "text"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return str(value)


def config_fields(channel: str) -> list[FormField]:
    """The form's inputs for ``channel``, in the model's order, keyed as the API spells
    them (``from`` for the e-mail sender)."""
    model = CHANNELS[channel]
    fields = []
    for name, info in model.model_fields.items():
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        fields.append(
            FormField(
                key=info.alias or name,
                kind=_kind(info.annotation),
                required=info.is_required(),
                default=_text(default),
            )
        )
    return fields


def config_from_texts(channel: str, texts: dict[str, str]) -> dict[str, Any]:
    """The ``config`` object for ``PUT /cep/channels/{name}`` from the form's texts;
    blank optional fields are left out (the model's default applies)."""
    config: dict[str, Any] = {}
    for field in config_fields(channel):
        text = texts.get(field.key, "").strip()
        if not text:
            continue
        path = f"config.{field.key}"
        if field.kind == "int":
            try:
                config[field.key] = int(text)
            except ValueError:
                raise ValueError(f"{path}: expected a whole number, got {text!r}") from None
        elif field.kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{path}: expected true or false, got {text!r}")
            config[field.key] = text.lower() == "true"
        elif field.kind == "list":
            config[field.key] = [item.strip() for item in text.split(",") if item.strip()]
        elif field.kind == "json":
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: invalid JSON: {exc.msg}") from None
            if not isinstance(value, dict):
                raise ValueError(f"{path}: expected a JSON object")
            config[field.key] = value
        else:
            config[field.key] = text
    return config


def texts_from_config(channel: str, config: dict[str, Any] | None) -> dict[str, str]:
    """The form's texts for a stored (masked) configuration, or the defaults."""
    config = config or {}
    return {
        field.key: _text(config[field.key]) if field.key in config else field.default
        for field in config_fields(channel)
    }


class ChannelsState(param.Parameterized):
    """What ``/cep-channels`` shows and does."""

    channel: param.Selector[str] = param.Selector(default="Slack", objects=list(CHANNELS))
    texts = param.Dict(default={}, doc="The form's text per configuration key.")
    test_message = param.String(default="CEP 채널 테스트", label="Test message")
    statuses = param.Dict(default={}, doc="Channel name -> ChannelStatus.")
    test_result = param.ClassSelector(class_=ChannelTestResult, default=None, allow_None=True)
    dead_letters = param.List(default=[], item_type=StoredDeadLetter)
    message = param.String(default="", doc="The last action's outcome or error.")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self.client = client

    # -- reading --------------------------------------------------------------------

    def load(self) -> None:
        """Channel types, statuses, the dead letters and the open channel's form."""
        try:
            types_ = self.client.channel_types()
        except ClientError as exc:
            self.message = str(exc)
            return
        known = [name for name in types_ if name in CHANNELS]
        self.param.channel.objects = known
        if self.channel not in known and known:
            self.channel = known[0]
        self.refresh()
        self.open_channel(self.channel)

    def refresh(self) -> None:
        """Statuses and dead letters again."""
        try:
            statuses = self.client.channel_status()
            letters = self.client.dead_letters(status="all", limit=50)
        except ClientError as exc:
            self.message = str(exc)
            return
        self.param.update(statuses=statuses, dead_letters=letters)

    def open_channel(self, name: str) -> None:
        """Show ``name``'s stored configuration (secrets masked) in the form."""
        try:
            stored = self.client.channel(name)
        except ClientError as exc:
            self.message = str(exc)
            return
        self.param.update(
            channel=name, texts=texts_from_config(name, stored.config), test_result=None
        )

    def fields(self) -> list[FormField]:
        """The open channel's inputs."""
        return config_fields(self.channel)

    def set_text(self, key: str, text: str) -> None:
        """One input changed."""
        self.texts = {**self.texts, key: text}

    def status_rows(self) -> pd.DataFrame:
        """One row per channel: configured, status, last test, latency, breaker, message."""
        rows = [
            {
                "channel": name,
                "configured": status.configured,
                "status": status.status,
                "last_test": status.last_test.strftime("%Y-%m-%d %H:%M:%S")
                if status.last_test
                else "",
                "latency_ms": "" if status.latency_ms is None else f"{status.latency_ms:.1f}",
                "breaker": status.breaker or "",
                "message": status.message or "",
            }
            for name, status in self._statuses().items()
        ]
        return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))

    def dead_letter_rows(self) -> pd.DataFrame:
        """Recent failures that became dead letters, newest first (retried ones too)."""
        rows = [
            {
                "dead_letter_id": item.dead_letter_id,
                "created_at": item.letter.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "rule_name": item.letter.rule_name,
                "channel": item.letter.channel or item.letter.target or item.letter.action_type,
                "error": item.letter.error,
                "status": item.status,
            }
            for item in self.dead_letters
        ]
        return pd.DataFrame(rows, columns=list(DEAD_LETTER_COLUMNS))

    def _statuses(self) -> dict[str, ChannelStatus]:
        return dict(self.statuses)

    # -- acting ---------------------------------------------------------------------

    def save(self) -> bool:
        """Store the form as the channel's configuration; True when the server took it."""
        try:
            config = config_from_texts(self.channel, dict(self.texts))
            stored = self.client.configure_channel(self.channel, config)
        except ValueError as exc:
            self.message = str(exc)
            return False
        except ClientError as exc:
            self.message = _problems_text(exc)
            return False
        self.texts = texts_from_config(self.channel, stored.config)
        self.message = f"{self.channel} configuration saved."
        self.refresh()
        return True

    def test(self) -> ChannelTestResult | None:
        """Send the test message through the stored configuration."""
        try:
            result = self.client.test_channel(self.channel, message=self.test_message or None)
        except ClientError as exc:
            self.message = _problems_text(exc)
            return None
        self.test_result = result
        self.message = ""
        self.refresh()
        return result

    def retry(self, dead_letter_id: str) -> bool:
        """Deliver a dead letter again (fix the channel first); True when delivered."""
        try:
            result = self.client.retry_delivery(dead_letter_id)
        except ClientError as exc:
            self.message = str(exc)
            return False
        self.message = (
            f"Dead letter {dead_letter_id} redelivered."
            if result.delivered
            else f"Retry of {dead_letter_id} failed: {result.result.error}"
        )
        self.refresh()
        return result.delivered


def _problems_text(exc: ClientError) -> str:
    if exc.problems:
        return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems)
    return str(exc)
