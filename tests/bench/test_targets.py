"""make bench's verdicts on issue 12's targets (bench/targets.py), from a run's figures."""

from pathlib import Path

import pytest

from bench.targets import TARGETS, Cpu, verdicts

# Runs M / N's figures (bench/HISTORY.md), with run M's values.
RUN_M = {
    "catalogue_vs_plain_orm": 3.76,
    "ingest_vs_bare": 0.05,
    "floor_ingest_vs_bare": 0.2,
    "ingest_vs_djstripe": 6.1,
    "confirm_vs_djstripe": 0.77,
    "confirm_p99_ms": 20234.0,
    "flash_sale_p99_ms": 851.0,
    "floor_flash_sale_p99_ms": 286.0,
    "flash_sale_holds": 10,
    "flash_sale_5xx": 0,
    "web_worker_rss_mb": 131.2,
}


def _by_key(figures):
    return {v.target.key: v for v in verdicts(figures)}


def test_each_target_is_met_or_not_by_its_figure():
    got = _by_key(RUN_M)

    met = {key for key, v in got.items() if v.met}
    assert met == {
        "catalogue_vs_plain_orm",
        "flash_sale_holds",
        "flash_sale_5xx",
        "web_worker_rss_mb",
    }
    assert got["flash_sale_p99_ms"].line() == (
        "flash sale p99 (ms)                      flash_sale_p99_ms 851 (target < 250): "
        "NOT met; its floor 286"
    )


def test_a_sale_with_an_eleventh_hold_or_a_5xx_fails_its_target():
    got = _by_key({**RUN_M, "flash_sale_holds": 11, "flash_sale_5xx": 1})

    assert got["flash_sale_holds"].met is False
    assert got["flash_sale_5xx"].met is False


def test_a_figure_the_run_did_not_measure_is_not_counted_as_met():
    # The dj-stripe peer could not be installed: its ratios are missing, or NaN.
    figures = {k: v for k, v in RUN_M.items() if k != "ingest_vs_djstripe"}
    figures["confirm_vs_djstripe"] = float("nan")

    got = _by_key(figures)

    assert got["ingest_vs_djstripe"].met is None
    assert got["confirm_vs_djstripe"].met is None
    assert got["confirm_vs_djstripe"].word == "not measured"
    assert got["confirm_vs_djstripe"].as_json() == {
        "figure": "confirm_vs_djstripe",
        "value": None,
        "target": ">= 5",
        "met": None,
        "cpu_ms_allowed": None,
        "cpu_ms_spent": None,
    }


# Run Q's references and the machine's CPU per request in each phase (README, "Performance").
RUN_Q_CPU = {
    "cores": 2,
    "bare_rps": 15932.0,
    "djstripe_rps": 117.0,
    "cpu_ms_per": {
        "confirmation": {"web": 1.39, "worker": 17.9, "total": 33.7},
        "flash sale request": {"web": 1.12, "total": 2.08},
        "ingest delivery": {"web": 1.4, "total": 3.47},
        "floor: ingest delivery": {"web": 0.32, "total": 0.57},
        "floor: flash sale request": {"web": 0.3, "total": 0.62},
    },
}


def test_a_throughput_target_shows_the_cpu_a_request_may_cost_against_what_it_cost():
    got = _by_key({**RUN_M, **RUN_Q_CPU})

    # 2 cores: 2,000 ms of CPU a second, shared by the requests the target asks for.
    assert got["ingest_vs_bare"].cpu == Cpu(pytest.approx(2000 / (0.15 * 15932)), 3.47, 0.57)
    assert got["ingest_vs_djstripe"].cpu == Cpu(pytest.approx(2000 / (15 * 117)), 3.47, 0.57)
    assert got["confirm_vs_djstripe"].cpu == Cpu(pytest.approx(2000 / (5 * 117)), 33.7)
    # 500 buyers answered within 250 ms: 2,000 a second, 1 ms each.
    assert got["flash_sale_p99_ms"].cpu == Cpu(pytest.approx(1.0), 2.08, 0.62)
    flash = "NOT met; its floor 286; CPU a request: allows 1.00 ms, spent 2.08 (its floor 0.62)"
    assert got["flash_sale_p99_ms"].line().endswith(flash)
    assert got["confirm_vs_djstripe"].line().endswith("allows 3.42 ms, spent 33.70")
    assert got["ingest_vs_bare"].as_json() == {
        "figure": "ingest_vs_bare",
        "value": 0.05,
        "target": ">= 0.15",
        "met": False,
        "floor": 0.2,
        "cpu_ms_allowed": 0.84,
        "cpu_ms_spent": 3.47,
        "cpu_ms_floor": 0.57,
    }
    # Targets that are not on throughput carry no budget.
    assert got["catalogue_vs_plain_orm"].cpu is None
    assert "CPU" not in got["web_worker_rss_mb"].line()


def test_a_budget_the_run_could_not_measure_is_left_out():
    # No dj-stripe, no CPU figures for the flash sale.
    figures = {**RUN_M, **RUN_Q_CPU, "djstripe_rps": None}
    figures["cpu_ms_per"] = {k: v for k, v in RUN_Q_CPU["cpu_ms_per"].items() if "flash" not in k}

    got = _by_key(figures)

    assert got["confirm_vs_djstripe"].cpu is None
    assert got["flash_sale_p99_ms"].cpu is None
    assert "CPU" not in got["flash_sale_p99_ms"].line()
    assert got["flash_sale_p99_ms"].as_json()["cpu_ms_spent"] is None
    assert got["ingest_vs_bare"].cpu is not None


def test_every_target_reads_a_figure_the_bench_writes():
    # The keys run.py puts in its JSON line (a target reading a renamed figure would only
    # ever say "not measured").
    bench = Path(__file__).parents[2] / "bench"
    source = (bench / "run.py").read_text()
    floors = (bench / "floors.py").read_text()
    for target in TARGETS:
        assert f'"{target.key}"' in source, target.key
        if target.floor_key:
            assert f'"{target.floor_key}"' in source, target.floor_key
        if target.budget:
            assert f'cpu_use["{target.budget.phase}"]' in source, target.budget.phase
            if target.budget.floor_phase:
                assert f'"{target.budget.floor_phase}"' in floors, target.budget.floor_phase
    for reference in ("bare_rps", "djstripe_rps", "cores"):
        assert f'"{reference}"' in source, reference
