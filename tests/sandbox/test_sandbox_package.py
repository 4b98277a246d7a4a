"""The sandbox is its own top-level package: it loads without Django and takes nothing from
Kennel but the currency table."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.sandbox.test_sandbox_cli import REPO_ROOT

# Every module of the package imported in a fresh interpreter, then what that loaded.
_PROBE = """
import importlib, json, pkgutil, sys
import sandbox
for module in pkgutil.walk_packages(sandbox.__path__, "sandbox."):
    importlib.import_module(module.name)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("django", "kennel"))
print(json.dumps(loaded))
"""


def test_the_sandbox_loads_no_django_and_only_the_currency_table_from_kennel() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["kennel", "kennel.core", "kennel.core.money"]
