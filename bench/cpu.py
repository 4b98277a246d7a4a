"""Where the machine's CPU went during a phase of the bench, per request, by part: the web
server's processes, Kennel's worker, the sandbox, PostgreSQL, the load generator (this
process and the wrk runs it waited for) and the rest (the kernel's loopback networking,
anything else running). Read from /proc at the start and the end of the phase.

A figure's ceiling follows from it: on N cores, at most N x 1,000 ms of CPU a second, so a
path that costs C ms of CPU per request across the machine cannot go faster than
N x 1,000 / C requests a second, whatever is tuned.
"""

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from bench.common import cmdline

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
ROLES = ("web", "worker", "sandbox", "postgres", "load", "other")


def _role(pid: int) -> str | None:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    command = cmdline(pid)
    if comm == "postgres":
        return "postgres"
    if "granian" in command:
        return "web"  # Kennel's server, a reference one or the floor: one runs at a time
    if " kennel worker" in command:
        return "worker"
    if " kennel sandbox" in command:
        return "sandbox"
    return None


def _process_ms(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_MS  # utime + stime


def _machine_busy_ms() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) * TICK_MS


def _load_ms() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime) * 1000


def _snapshot() -> tuple[dict[int, tuple[str, float]], float, float]:
    processes = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (role := _role(int(entry))) is not None:
            processes[int(entry)] = (role, _process_ms(int(entry)))
    return processes, _load_ms(), _machine_busy_ms()


@dataclass
class CpuUse:
    """`CpuUse.start()` before a phase, `.per(count)` after it."""

    processes: dict[int, tuple[str, float]]
    load: float
    busy: float

    @classmethod
    def start(cls) -> "CpuUse":
        return cls(*_snapshot())

    def per(self, count: int) -> dict[str, float]:
        """CPU ms per item (request, delivery, confirmation) by part, and `total`."""
        processes, load, busy = _snapshot()
        spent = dict.fromkeys(ROLES, 0.0)
        for pid, (role, ms) in processes.items():
            before = self.processes.get(pid)
            # A process started during the phase counts whole; one that ended is lost (rare:
            # a PostgreSQL backend of a closed connection).
            spent[role] += ms - (before[1] if before and before[0] == role else 0.0)
        spent["load"] = load - self.load
        # The machine's own count is the total; the parts are counted per process in clock
        # ticks, so their sum can be off by a few ticks each.
        total = busy - self.busy
        spent["other"] = max(0.0, total - sum(spent.values()))
        spent["total"] = total
        return {role: round(ms / max(count, 1), 2) for role, ms in spent.items()}
