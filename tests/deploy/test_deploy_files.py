"""The deployment recipe as an operator meets it: the image holds the product only and runs as
a non-root user; compose.yaml wires PostgreSQL, a migration, web, worker and a TLS proxy.
(No container engine runs on the machines this suite runs on: the image itself is built where
one is — `docker build .`.)"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_compose_runs_postgres_a_migration_web_worker_and_a_tls_proxy():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]

    assert set(services) == {"db", "migrate", "web", "worker", "proxy"}
    assert services["migrate"]["command"] == ["python", "-m", "kennel", "migrate", "--noinput"]
    assert services["worker"]["command"] == ["python", "-m", "kennel", "worker"]
    for name in ("migrate", "web", "worker"):
        assert services[name]["image"] == "kennel:latest"
        assert services[name]["environment"]["PAYMENTS_MODE"] == "live"
        assert "db:5432/kennel" in services[name]["environment"]["DATABASE_URL"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]
    assert "ports" not in services["web"]  # only the proxy faces the world
    caddyfile = (REPO / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    assert "read_header 5s" in caddyfile


def test_the_image_runs_the_product_as_a_non_root_user_without_the_sandbox():
    dockerfile = (REPO / "Dockerfile").read_text()
    ignored = (REPO / ".dockerignore").read_text().split()

    assert "USER kennel" in dockerfile
    assert "FROM python:3.11-slim" in dockerfile
    copied = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert copied[:2] == ["COPY pyproject.toml README.md ./", "COPY kennel ./kennel"]
    assert {"sandbox", "tests", "bench", ".venv", "var"} <= set(ignored)


def test_the_wheel_the_image_installs_holds_the_product_and_not_the_sandbox(tmp_path):
    # Built from a copy of what the Dockerfile copies plus the sandbox beside it (a build
    # leaves its build/ folder in the source tree).
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("kennel", "sandbox"):
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("kennel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert not [n for n in names if n.startswith(("sandbox/", "tests/", "bench/"))]
    assert "kennel/templates/catalogue/puppy.html" in names
    assert "kennel/static/kennel/site.css" in names
    assert "kennel/ops/demo/puppies.json" in names
