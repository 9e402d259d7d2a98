"""`make demo` runs on embedded defaults: a SQLite file. Its migrations, its data and the
commands the README gives must work there too, not only on PostgreSQL (an array column once
broke the demo's migrations without any PostgreSQL test noticing)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, database: Path) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DEBUG": "1",
           "VAR_DIR": str(database.parent)}
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

    assert manage("create_scim_client", "Okta", database=database).strip().startswith("scim_")


CURL_A_USER_IN = """
import json
from django.test import Client
token = open("{token_file}").read().strip()
response = Client().post("/scim/v2/Users", data=json.dumps({{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "new.person@access.example"}}), content_type="application/scim+json",
    headers={{"Authorization": "Bearer " + token}}, SERVER_NAME="localhost")
print(response.status_code, response.json().get("userName"))
"""


def test_the_demo_has_a_provisioned_person_and_a_scim_token_that_works(tmp_path):
    database = tmp_path / "demo.sqlite3"
    manage("migrate", "--noinput", "-v0", database=database)
    assert "priya@access.example" in manage("demo_seed", database=database)
    token_file = tmp_path / "demo_scim_token"
    assert token_file.read_text().startswith("scim_")
    out = manage("shell", "-c", CURL_A_USER_IN.format(token_file=token_file),
                 database=database)
    assert "201 new.person@access.example" in out, out


def test_the_demo_on_sqlite_assigns_the_sales_workspace_to_everyone_in_sales(tmp_path):
    database = tmp_path / "demo.sqlite3"
    manage("migrate", "--noinput", "-v0", database=database)
    out = manage("demo_seed", database=database)
    assert "“Everyone in Sales” on “Sales workspace”: 2 people of Sales assigned (done)" in out
