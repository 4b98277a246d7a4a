"""make bench's verdicts on issue 12's targets (bench/targets.py), from a run's figures."""

from pathlib import Path

from bench.targets import TARGETS, verdicts

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
    }


def test_every_target_reads_a_figure_the_bench_writes():
    # The keys run.py puts in its JSON line (a target reading a renamed figure would only
    # ever say "not measured").
    source = (Path(__file__).parents[2] / "bench" / "run.py").read_text()
    for target in TARGETS:
        assert f'"{target.key}"' in source, target.key
        if target.floor_key:
            assert f'"{target.floor_key}"' in source, target.floor_key
