"""API keys, roles and tenants.

With ``CEPKIT_API_KEYS`` set, every request under ``/cep`` needs a key (header
``X-API-Key`` or ``Authorization: Bearer <key>``); each key has a role and a tenant:

- ``viewer`` reads (GET);
- ``operator`` also ingests, acknowledges and dismisses events, simulates and triggers
  rules, tests channels and retries dead letters;
- ``admin`` also writes rules, imports packs and configures channels.

A tenant sees only its own rules, events, logs, channels and dead letters; its events
only reach its own rules. Without keys everything is the ``default`` tenant with admin
rights, and ``cepkit serve`` binds to 127.0.0.1 only.

``CEPKIT_API_KEYS`` is a JSON list (``[{"key": "...", "role": "admin", "tenant": "acme",
"name": "ops"}]``) or the short form ``key:role[:tenant],...``.

>>> keys = parse_api_keys("k1:admin:acme, k2:viewer")
>>> [(k.role, k.tenant) for k in keys]
[('admin', 'acme'), ('viewer', 'default')]
>>> required_role("GET", "/cep/events"), required_role("POST", "/cep/ingest")
('viewer', 'operator')
>>> required_role("PUT", "/cep/rules/rule_1"), required_role("POST", "/cep/events/e1/ack")
('admin', 'operator')
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

__all__ = [
    "LOCAL",
    "ROLES",
    "ApiKey",
    "Principal",
    "authorize",
    "parse_api_keys",
    "presented_key",
    "required_role",
]

Role = Literal["viewer", "operator", "admin"]
#: role -> rank (a higher rank may do what a lower one may)
ROLES: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}

_OPERATOR_POSTS = (
    re.compile(r"^/cep/ingest$"),
    re.compile(r"^/cep/events/ack$"),
    re.compile(r"^/cep/events/[^/]+/(ack|dismiss)$"),
    re.compile(r"^/cep/rules/[^/]+/(simulate|trigger)$"),
    re.compile(r"^/cep/channels/test$"),
    re.compile(r"^/cep/deliveries/[^/]+/retry$"),
    re.compile(r"^/cep/copilot/draft$"),
)


class ApiKey(BaseModel):
    """One configured key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: SecretStr
    role: Role
    tenant: str = Field(default="default", min_length=1, max_length=64)
    name: str | None = None


class Principal(BaseModel):
    """Who is calling: a key's name, role and tenant."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    tenant: str


#: the caller when no keys are configured (local use)
LOCAL = Principal(name="local", role="admin", tenant="default")


def parse_api_keys(text: str | None) -> list[ApiKey]:
    """Keys from ``CEPKIT_API_KEYS``; ValueError naming the bad entry otherwise."""
    if text is None or not text.strip():
        return []
    raw = text.strip()
    try:
        if raw.startswith("["):
            items = json.loads(raw)
            if not isinstance(items, list):
                raise ValueError("CEPKIT_API_KEYS: expected a JSON list")
            return [ApiKey.model_validate(item) for item in items]
        keys = []
        for index, entry in enumerate(part.strip() for part in raw.split(",")):
            parts = entry.split(":")
            if len(parts) not in (2, 3) or not parts[0]:
                raise ValueError(
                    f"CEPKIT_API_KEYS[{index}]: expected key:role[:tenant], got {len(parts)} parts"
                )
            tenant = parts[2] if len(parts) == 3 else "default"
            keys.append(
                ApiKey.model_validate({"key": parts[0], "role": parts[1], "tenant": tenant})
            )
        return keys
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"CEPKIT_API_KEYS: {exc}") from None


def required_role(method: str, path: str) -> Role:
    """The least role that may call ``method path``."""
    if method.upper() in ("GET", "HEAD", "OPTIONS"):
        return "viewer"
    if method.upper() == "POST" and any(p.match(path) for p in _OPERATOR_POSTS):
        return "operator"
    return "admin"


def _header(headers: Mapping[str, Any], name: str) -> Any:
    """The value of header ``name`` (lower case): ``headers.get(name)``, else the value of a
    plain mapping's key spelt in any case; of a list of values, the first."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def presented_key(headers: Mapping[str, Any]) -> str | None:
    """The API key a request presented: ``X-API-Key``, else ``Authorization: Bearer <key>``.

    ``headers`` is a request's (Starlette's: case-insensitive, a repeated header gives its
    first value) or a plain mapping with names in any case (the dashboards' page headers).

    >>> presented_key({"Authorization": "Bearer abc"}), presented_key({"x-api-key": "k"})
    ('abc', 'k')
    >>> from starlette.datastructures import Headers
    >>> presented_key(Headers(raw=[(b"x-api-key", b"first"), (b"x-api-key", b"second")]))
    'first'
    """
    key = _header(headers, "x-api-key")
    if key:
        return str(key)
    auth = _header(headers, "authorization")
    scheme, _, token = str("" if auth is None else auth).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _presented(request: Request) -> str | None:
    return presented_key(request.headers)


def _match(keys: list[ApiKey], presented: str) -> ApiKey | None:
    found = None
    for key in keys:  # compare with every key, in constant time each
        if hmac.compare_digest(key.key.get_secret_value().encode(), presented.encode()):
            found = key
    return found


async def authorize(request: Request) -> Principal:
    """The app-wide dependency: the caller, or 401 / 403."""
    keys: list[ApiKey] = getattr(request.app.state, "api_keys", [])
    if not keys:
        request.state.principal = LOCAL
        return LOCAL
    presented = _presented(request)
    key = _match(keys, presented) if presented else None
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="an API key is required (X-API-Key or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = Principal(name=key.name or f"key:{key.role}", role=key.role, tenant=key.tenant)
    needed = required_role(request.method, request.url.path)
    if ROLES[principal.role] < ROLES[needed]:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.role} may not {request.method} {request.url.path} "
            f"(needs {needed})",
        )
    request.state.principal = principal
    return principal
