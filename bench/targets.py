"""The targets a run of `make bench` is held to (issue 12), and whether it met them.

Each target reads figures the run measured. Where a floor was measured for the same path
(bench/floors.py: the least a Django view can do there, on this machine), its figure is shown
beside Kennel's: a target the floor itself misses cannot be met by Kennel's code on this
machine, whatever it does.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str
    key: str  # the figure in the bench's JSON
    op: str  # ">=", "<" or "=="
    bound: float
    floor_key: str | None = None  # the floor's figure for the same target, if measured

    def check(self, figures: dict[str, Any]) -> "Verdict":
        value = _number(figures.get(self.key))
        floor = _number(figures.get(self.floor_key)) if self.floor_key else None
        met = None if value is None else _OPS[self.op](value, self.bound)
        return Verdict(self, value, met, floor)


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float | None
    met: bool | None  # None: not measured in this run (the peer unavailable, a phase failed)
    floor: float | None

    @property
    def word(self) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]

    def line(self) -> str:
        t = self.target
        value = "—" if self.value is None else f"{self.value:g}"
        text = f"{t.name:<40} {t.key} {value} (target {t.op} {t.bound:g}): {self.word}"
        if self.floor is not None:
            text += f"; its floor {self.floor:g}"
        return text

    def as_json(self) -> dict[str, Any]:
        t = self.target
        out: dict[str, Any] = {"figure": t.key, "value": self.value}
        out |= {"target": f"{t.op} {t.bound:g}", "met": self.met}
        if t.floor_key:
            out["floor"] = self.floor
        return out


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "==": operator.eq,
}

TARGETS = (
    Target("catalogue vs the plain ORM page", "catalogue_vs_plain_orm", ">=", 3),
    Target("webhook ingest vs the bare view", "ingest_vs_bare", ">=", 0.15, "floor_ingest_vs_bare"),
    Target("webhook ingest vs dj-stripe", "ingest_vs_djstripe", ">=", 15),
    Target("confirmations vs dj-stripe", "confirm_vs_djstripe", ">=", 5),
    Target("delivery -> confirmed p99 (ms)", "confirm_p99_ms", "<", 1000),
    Target("flash sale p99 (ms)", "flash_sale_p99_ms", "<", 250, "floor_flash_sale_p99_ms"),
    Target("flash sale holds (10 puppies)", "flash_sale_holds", "==", 10),
    Target("flash sale 5xx", "flash_sale_5xx", "==", 0),
    Target("web worker peak RSS (MB)", "web_worker_rss_mb", "<", 150),
)


def verdicts(figures: dict[str, Any]) -> list[Verdict]:
    return [target.check(figures) for target in TARGETS]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if value != value else float(value)  # NaN: a ratio over nothing
