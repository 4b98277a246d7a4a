"""make bench's CPU accounting (bench/cpu.py): what a phase cost each part of the machine."""

import subprocess
import sys
import time

from bench.cpu import ROLES, CpuUse


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_load_generators_own_cpu_is_counted_per_request():
    use = CpuUse.start()
    _burn(0.3)
    # A load generator the bench ran and waited for (wrk) counts as load too.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import time\nt=time.process_time()+0.2\nwhile time.process_time()<t: pass",
        ],
        check=True,
    )

    per = use.per(10)

    assert set(per) == {*ROLES, "total"}
    assert 40 <= per["load"] <= 70  # 500 ms over 10 requests, give or take the scheduler
    assert per["total"] >= per["load"] * 0.9  # the machine's own count includes it


def test_a_phase_of_nothing_costs_next_to_nothing():
    use = CpuUse.start()
    time.sleep(0.3)

    per = use.per(1)

    assert per["load"] < 20
    assert all(value >= 0 for value in per.values())
