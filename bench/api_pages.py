#!/usr/bin/env python
"""Benchmark: reading N assignments through the Graph API, page by page, beside a floor that
reads and encodes the same rows without the API; and the cost of checking a bearer token.
See bench/README.md.

    python bench/api_pages.py [--n 10000] [--top 999]

Exits 1 when a check of the result fails, 2 when it cannot run; a missed aim is only marked.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Beside this script.
from expiry_dataset import build  # noqa: E402
from expiry_sweep import check, finish, open_bench_database, row  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_api"
ASSIGNMENTS = "/v1.0/identityGovernance/entitlementManagement/assignments"
AIM_RATIO = 5.0
AUTH_CALLS = 2000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="assignments (default 10000)")
    parser.add_argument("--top", type=int, default=999, help="$top per page (default 999)")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    return parser.parse_args()


def through_the_api(token: str, top: int) -> dict:
    """Follow @odata.nextLink from the first page to the last, as a script would."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # A host the settings allow (the bench runs without DEBUG).
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    url = f"{ASSIGNMENTS}?$top={top}&$expand=target,accessPackage&$count=true"
    ids, pages, queries, count = [], 0, [], None
    t0 = time.perf_counter()
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]}")
        body = json.loads(response.content)
        count = body.get("@odata.count", count)
        ids.extend(item["id"] for item in body["value"])
        pages += 1
        queries.append(len(captured))
        url = body.get("@odata.nextLink", "").replace("http://127.0.0.1", "")
    return {"seconds": time.perf_counter() - t0, "ids": ids, "pages": pages,
            "queries": queries, "count": count}


def floor(top: int) -> dict:
    """The same rows and properties, read in pages of `top` by id and encoded as JSON: what
    any API must do at least, without authentication, permissions, OData or Graph's shape."""
    from governance.models import Assignment

    ids, after = [], 0
    t0 = time.perf_counter()
    while True:
        rows = list(Assignment.objects.filter(pk__gt=after).order_by("pk").values(
            "pk", "state", "status", "start_at", "expires_at", "ended_at", "target_id",
            "target__email", "target__display_name", "access_package_id",
            "access_package__display_name")[:top])
        if not rows:
            break
        json.dumps({"value": rows}, default=str)
        ids.extend(str(item["pk"]) for item in rows)
        after = rows[-1]["pk"]
    return {"seconds": time.perf_counter() - t0, "ids": ids}


def authentication_costs(token: str) -> dict:
    """Microseconds per bearer-token check now (SHA-256), and what PBKDF2 (Django's password
    hasher, used for tokens before) costs per check."""
    from django.contrib.auth.hashers import check_password, make_password

    from governance.services.api_tokens import token_authenticate

    t0 = time.perf_counter()
    for _ in range(AUTH_CALLS):
        token_authenticate(token)
    sha = (time.perf_counter() - t0) / AUTH_CALLS * 1e6
    hashed = make_password("x" * 43)
    t0 = time.perf_counter()
    for _ in range(5):
        check_password("x" * 43, hashed)
    pbkdf2 = (time.perf_counter() - t0) / 5 * 1e6
    return {"sha256_us": sha, "pbkdf2_us": pbkdf2}


def main() -> int:
    args = parse_args()
    opened = open_bench_database("api_pages", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened
    from governance.choices import ApiPermission
    from governance.services.api_tokens import api_client_create

    print(f"api_pages: {args.n:,} assignments, $top={args.top}, database {name} "
          f"(PostgreSQL {version})")
    build(args.n, emails=False)
    _client, token = api_client_create(actor=None, display_name="Bench",
                                       permissions=[ApiPermission.READ_ALL], system=True)
    problems = []
    api = through_the_api(token, args.top)
    problems += check("api", {"items": len(api["ids"]), "distinct": len(set(api["ids"])),
                              "count": api["count"]},
                      {"items": args.n, "distinct": args.n, "count": args.n})
    bare = floor(args.top)
    problems += check("floor", {"items": len(bare["ids"])}, {"items": args.n})
    auth = authentication_costs(token)
    ratio = api["seconds"] / bare["seconds"] if bare["seconds"] else None
    per_page = sorted(set(api["queries"]))
    row("API: all pages", api["seconds"], "s")
    row("API: items a second", len(api["ids"]) / api["seconds"], "/s")
    row("API: pages", api["pages"], "")
    row("API: SQL queries per page (min)", per_page[0], "")
    row("API: SQL queries per page (max)", per_page[-1], "")
    row("floor: the same rows read and encoded", bare["seconds"], "s")
    row("API / floor", ratio, "x", f"aim {AIM_RATIO:g}x",
        above=ratio is not None and ratio > AIM_RATIO)
    row("token check (SHA-256), per call", auth["sha256_us"], "us")
    row("PBKDF2 check (before), per call", auth["pbkdf2_us"], "us")
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
