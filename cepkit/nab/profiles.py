"""NAB application profiles: the weights of a true positive, a false positive and a miss.

A profile is NAB's ``CostMatrix`` (``config/profiles.json``). The three shipped profiles
are :data:`PROFILES`; :func:`load_profiles` reads them from a NAB folder.

>>> PROFILES["reward_low_FN_rate"].fn_weight
2.0
>>> sorted(PROFILES)
['reward_low_FN_rate', 'reward_low_FP_rate', 'standard']
>>> Profile("mine", tp_weight=1.0, fp_weight=0.05, fn_weight=1.0).fp_weight
0.05
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cepkit.nab.errors import NabError

__all__ = ["PROFILES", "Profile", "load_profiles"]


@dataclass(frozen=True)
class Profile:
    """The weights NAB's scaled sigmoid is multiplied by.

    ``tp_weight`` is the credit of a detection at the first row of a window, ``fp_weight``
    the cost of a false positive far from any window, ``fn_weight`` the cost of a window
    without any detection. ``tn_weight`` is carried for completeness; NAB does not use it.
    """

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float
    tn_weight: float = 1.0

    def __post_init__(self) -> None:
        for field in ("tp_weight", "fp_weight", "fn_weight", "tn_weight"):
            weight = getattr(self, field)
            if not math.isfinite(weight) or weight < 0:
                raise NabError(f"profile {self.name!r}: {field} must be finite and >= 0")
        if self.tp_weight <= 0:
            raise NabError(f"profile {self.name!r}: tp_weight must be > 0")


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "standard": Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
        "reward_low_FP_rate": Profile(
            "reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0
        ),
        "reward_low_FN_rate": Profile(
            "reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0
        ),
    }
)
"""NAB v1.1's three profiles, by name, in ``config/profiles.json`` order."""


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """The profiles in a NAB ``profiles.json`` (``{name: {"CostMatrix": {...}}}``).

    >>> import tempfile
    >>> doc = '{"p": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.5, "fnWeight": 1}}}'
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "profiles.json").write_text(doc)
    ...     load_profiles(Path(tmp) / "profiles.json")["p"].fp_weight
    0.5
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: Profile(
                name,
                tp_weight=float(spec["CostMatrix"]["tpWeight"]),
                fp_weight=float(spec["CostMatrix"]["fpWeight"]),
                fn_weight=float(spec["CostMatrix"]["fnWeight"]),
                tn_weight=float(spec["CostMatrix"].get("tnWeight", 1.0)),
            )
            for name, spec in document.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, NabError):
            raise
        raise NabError(f"{path}: not a NAB profiles file ({exc!r})") from exc
