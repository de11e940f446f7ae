"""The open suppressions the flow shares in Redis: one key per rule and suppression key.

The decision to suppress is the engine's (its per-key state is what Bytewax recovery
snapshots); a firing that opens a suppression names it (:attr:`Firing.silence
<cepkit.firing.Firing.silence>`), and the flow's sink writes it, in the round trip that
appends the firing, as ``<prefix>silence:<rule_id>:<digest of the key values>`` holding
a :class:`SilenceRecord` as JSON and expiring at ``until`` (``SET ... PXAT``): a record
every API replica can read (``GET /cep/rules/{id}/suppressions``). ``until`` is event
time; a silence already over by the wall clock (a backfill of old data) is not written.
A firing re-emitted after a restart rewrites the same key.

>>> from datetime import UTC, datetime
>>> from cepkit.firing import Silence
>>> firing = Firing.build(rule_key="r1", rule_name="cpu", severity="high",
...     group={"host": "a"}, event_time=60.0,
...     silence=Silence(key={"host": "a"}, until=datetime.fromtimestamp(660, UTC)))
>>> rule_id, key, record, until_ms = silence_out(firing, rule_id="r1", tenant="acme")
>>> until_ms, SilenceRecord.model_validate_json(record).key
(660000, {'host': 'a'})
>>> from cepkit.flow.streams import FlowStreams
>>> FlowStreams(url="redis://127.0.0.1:6379/0", prefix="demo:").silence_key(rule_id, key)
'demo:silence:r1:aff63c4c919268755d3d'
>>> silence_out(firing.model_copy(update={"silence": None}), rule_id="r1", tenant="acme")
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cepkit.firing import Firing, digest

__all__ = ["SilenceOut", "SilenceRecord", "silence_out"]

#: what the sink writes for one silence: (rule id, key digest, record JSON, until in ms)
SilenceOut = tuple[str, str, str, int]


class SilenceRecord(BaseModel):
    """One open suppression as Redis holds it."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    tenant: str
    key: dict[str, Any] = Field(default_factory=dict)
    until: datetime
    firing_id: str
    event_time: datetime


def silence_out(firing: Firing, *, rule_id: str, tenant: str) -> SilenceOut | None:
    """What the sink writes for ``firing``'s silence (None when it opens none)."""
    silence = firing.silence
    if silence is None:
        return None
    record = SilenceRecord(
        rule_id=rule_id,
        tenant=tenant,
        key=silence.key,
        until=silence.until,
        firing_id=firing.firing_id,
        event_time=firing.event_time,
    )
    until_ms = round(silence.until.timestamp() * 1000)
    return rule_id, digest(silence.key), record.model_dump_json(), until_ms
