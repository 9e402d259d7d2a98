"""The benchmarks are not part of the test run, but they must keep running as the schema
moves: a tiny run of each checks that it builds its data set, measures, and verifies the
result."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]


def test_expiry_benchmark_runs_and_verifies_its_result(require_postgres):
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
           f"{database['PORT'] or 5432}/portal_bench_smoke")
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "expiry_sweep.py"), "--n", "50",
         "--skip-tracemalloc"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "sweep: verified expired=50" in output, output[-3000:]
    assert "floor: verified expired=50" in output
    assert "CHECK FAILED" not in output, output[-3000:]


def test_scim_delivery_benchmark_runs_and_verifies_its_result(require_postgres):
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
           f"{database['PORT'] or 5432}/portal_bench_scim_smoke")
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scim_delivery.py"), "--n", "20"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "delivery: verified delivered=20" in output, output[-3000:]
    assert "floor: verified group_members=20" in output, output[-3000:]
    assert "CHECK FAILED" not in output, output[-3000:]


def test_review_start_benchmark_runs_and_verifies_its_result(require_postgres):
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
           f"{database['PORT'] or 5432}/portal_bench_review_smoke")
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "review_start.py"), "--n", "50"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "review_start: verified reviews=1, decisions=50" in output, output[-3000:]
    assert "review_start (tracemalloc): verified" in output, output[-3000:]
    assert "floor: verified reviews=1, decisions=50" in output, output[-3000:]
    assert "CHECK FAILED" not in output, output[-3000:]
