"""`make demo` runs on embedded defaults: a SQLite file. Its migrations, its data and the
commands the README gives must work there too, not only on PostgreSQL (an array column once
broke the demo's migrations without any PostgreSQL test noticing)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, database: Path) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DEBUG": "1"}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def test_the_demo_migrates_seeds_and_makes_tokens_on_sqlite(tmp_path):
    database = tmp_path / "demo.sqlite3"
    manage("migrate", "--noinput", "-v0", database=database)
    assert "admin@access.example" in manage("demo_seed", database=database)
    token = manage("create_api_client", "Demo script", "--permission",
                   "EntitlementManagement.ReadWrite.All", database=database)
    assert token.strip().startswith("pac_")
    assert manage("create_user_token", "owner@access.example",
                  database=database).strip().startswith("pat_")
