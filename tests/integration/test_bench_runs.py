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


def run_bench(script: str, database: str, *args: str) -> str:
    """Run bench/<script> against its own database beside the test database; its output,
    after checking that it exited 0 and found nothing wrong."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                            env={**os.environ, "DATABASE_URL": url}, capture_output=True,
                            text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "CHECK FAILED" not in output, output[-3000:]
    return output


def test_expiry_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("expiry_sweep.py", "portal_bench_smoke", "--n", "50",
                       "--skip-tracemalloc")
    assert "sweep: verified expired=50" in output, output[-3000:]
    assert "floor: verified expired=50" in output


def test_scim_delivery_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("scim_delivery.py", "portal_bench_scim_smoke", "--n", "20")
    assert "delivery: verified delivered=20" in output, output[-3000:]
    assert "floor: verified group_members=20" in output, output[-3000:]


def test_review_start_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("review_start.py", "portal_bench_review_smoke", "--n", "50")
    assert "review_start: verified reviews=1, decisions=50" in output, output[-3000:]
    assert "review_start (tracemalloc): verified" in output, output[-3000:]
    assert "floor: verified reviews=1, decisions=50" in output, output[-3000:]


def test_api_pages_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("api_pages.py", "portal_bench_api_smoke", "--n", "30", "--top", "7")
    assert "api: verified items=30, distinct=30, count=30" in output, output[-3000:]
    assert "floor: verified items=30" in output, output[-3000:]


def test_scim_sync_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("scim_sync.py", "portal_bench_scim_sync_smoke", "--users", "30",
                       "--groups", "3", "--members", "5")
    assert "push: verified people=30, with_manager=27, groups=3, memberships=15" in output, \
        output[-3000:]
    assert "floor: verified people=30" in output, output[-3000:]


def test_leaver_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("leaver.py", "portal_bench_leaver_smoke", "--n", "5", "--rounds", "1")
    assert "leaver: verified ended=5, revokes_queued=10, local_revoked=5" in output, \
        output[-3000:]


def test_auto_assign_benchmark_runs_and_verifies_its_result(require_postgres):
    output = run_bench("auto_assign.py", "portal_bench_auto_assign_smoke", "--people", "40",
                       "--policies", "5")
    assert "rule evaluation: verified state=done, matched=20, added=20" in output, \
        output[-3000:]
    assert "floor: verified assignments=20" in output, output[-3000:]
    assert "mover: verified added=2, removal_scheduled=1" in output, output[-3000:]
