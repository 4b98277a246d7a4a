"""The layers of STYLE.md hold: an app imports only the apps below it (import-linter, with the
contracts in pyproject.toml), and the check really fails when one imports upward."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_app_imports_only_the_layers_below_it():
    result = _lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apps import downward only KEPT" in result.stdout


def test_a_module_that_imports_upward_fails_the_check(tmp_path):
    # The same contracts, run on a copy of the code with one deliberately bad module: the
    # money helpers in core reaching up into payments, as a "quick fix" might.
    for package in ("kennel", "sandbox"):
        shutil.copytree(
            REPO / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "media"),
        )
    (tmp_path / "kennel" / "core" / "bad_shortcut.py").write_text(
        "from kennel.payments.models import Refund\n"
    )

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "Apps import downward only BROKEN" in result.stdout
    assert "kennel.core.bad_shortcut -> kennel.payments.models" in result.stdout
