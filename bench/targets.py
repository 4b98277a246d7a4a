"""The targets a run of `make bench` is held to (issue 12), and whether it met them.

Each target reads figures the run measured. Where a floor was measured for the same path
(bench/floors.py: the least a Django view can do there, on this machine), its figure is shown
beside Kennel's: a target the floor itself misses cannot be met by Kennel's code on this
machine, whatever it does.

A target on throughput or on draining a burst is also a budget: on N cores there are N x 1,000
ms of CPU a second, so a path asked to serve R requests a second may spend at most
N x 1,000 / R ms of the machine's CPU on each (the web server, PostgreSQL, the worker, the
load generator, the kernel: all of it). Beside such a target the verdict prints that budget
and what the run spent per request in the same phase (bench/cpu.py): a path that spends more
than its budget cannot meet the target on this machine, however the load is spread.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    """The CPU a request may cost for a target to be reachable: `rate` is the requests a
    second the target asks for (from the run's figures), `phase` the bench's CPU phase
    (JSON `cpu_ms_per`) whose cost per request is compared with it."""

    phase: str
    rate: Callable[[dict[str, Any]], float | None]
    floor_phase: str | None = None  # the floor's phase on the same path, if measured

    def of(self, figures: dict[str, Any]) -> "Cpu | None":
        """The machine's CPU per request: allowed, spent (and the floor's), or None if the
        run did not measure it."""
        rate = self.rate(figures)
        cores = _number(figures.get("cores"))
        spent = _spent(figures, self.phase)
        if not rate or not cores or spent is None:
            return None
        floor = _spent(figures, self.floor_phase) if self.floor_phase else None
        return Cpu(cores * 1000 / rate, spent, floor)


@dataclass(frozen=True)
class Cpu:
    """ms of the machine's CPU per request: what a target allows, what the run spent."""

    allowed: float
    spent: float
    floor: float | None = None  # what the floor spent on the same path

    def text(self) -> str:
        text = f"CPU a request: allows {self.allowed:.2f} ms, spent {self.spent:.2f}"
        return text if self.floor is None else f"{text} (its floor {self.floor:.2f})"


def _spent(figures: dict[str, Any], phase: str) -> float | None:
    return _number(figures.get("cpu_ms_per", {}).get(phase, {}).get("total"))


def _times(factor: float, key: str) -> Callable[[dict[str, Any]], float | None]:
    """`factor` x a reference's requests a second (the target's ratio to it)."""

    def rate(figures: dict[str, Any]) -> float | None:
        reference = _number(figures.get(key))
        return factor * reference if reference else None

    return rate


@dataclass(frozen=True)
class Target:
    name: str
    key: str  # the figure in the bench's JSON
    op: str  # ">=", "<" or "=="
    bound: float
    floor_key: str | None = None  # the floor's figure for the same target, if measured
    budget: Budget | None = None

    def check(self, figures: dict[str, Any]) -> "Verdict":
        value = _number(figures.get(self.key))
        floor = _number(figures.get(self.floor_key)) if self.floor_key else None
        met = None if value is None else _OPS[self.op](value, self.bound)
        cpu = self.budget.of(figures) if self.budget else None
        return Verdict(self, value, met, floor, cpu)


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float | None
    met: bool | None  # None: not measured in this run (the peer unavailable, a phase failed)
    floor: float | None
    cpu: Cpu | None = None  # Target.budget, as the run measured it

    @property
    def word(self) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]

    def line(self) -> str:
        t = self.target
        value = "—" if self.value is None else f"{self.value:g}"
        text = f"{t.name:<40} {t.key} {value} (target {t.op} {t.bound:g}): {self.word}"
        if self.floor is not None:
            text += f"; its floor {self.floor:g}"
        if self.cpu is not None:
            text += f"; {self.cpu.text()}"
        return text

    def as_json(self) -> dict[str, Any]:
        t = self.target
        out: dict[str, Any] = {"figure": t.key, "value": self.value}
        out |= {"target": f"{t.op} {t.bound:g}", "met": self.met}
        if t.floor_key:
            out["floor"] = self.floor
        if t.budget:
            cpu = self.cpu
            out["cpu_ms_allowed"] = round(cpu.allowed, 2) if cpu else None
            out["cpu_ms_spent"] = cpu.spent if cpu else None
            if t.budget.floor_phase:
                out["cpu_ms_floor"] = cpu.floor if cpu else None
        return out


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "==": operator.eq,
}

INGEST = "ingest delivery"
CONFIRMATION = "confirmation"
FLASH_SALE = "flash sale request"
FLOOR_INGEST = "floor: ingest delivery"
FLOOR_FLASH_SALE = "floor: flash sale request"
FLASH_SALE_BUYERS = 500  # at the same instant: the last is answered once all are served

TARGETS = (
    Target("catalogue vs the plain ORM page", "catalogue_vs_plain_orm", ">=", 3),
    Target(
        "webhook ingest vs the bare view",
        "ingest_vs_bare",
        ">=",
        0.15,
        "floor_ingest_vs_bare",
        Budget(INGEST, _times(0.15, "bare_rps"), FLOOR_INGEST),
    ),
    Target(
        "webhook ingest vs dj-stripe",
        "ingest_vs_djstripe",
        ">=",
        15,
        budget=Budget(INGEST, _times(15, "djstripe_rps"), FLOOR_INGEST),
    ),
    Target(
        "confirmations vs dj-stripe",
        "confirm_vs_djstripe",
        ">=",
        5,
        budget=Budget(CONFIRMATION, _times(5, "djstripe_rps")),
    ),
    Target("delivery -> confirmed p99 (ms)", "confirm_p99_ms", "<", 1000),
    Target(
        "flash sale p99 (ms)",
        "flash_sale_p99_ms",
        "<",
        250,
        "floor_flash_sale_p99_ms",
        # 500 requests served within 250 ms: 2,000 a second.
        Budget(FLASH_SALE, lambda figures: FLASH_SALE_BUYERS / 0.250, FLOOR_FLASH_SALE),
    ),
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
