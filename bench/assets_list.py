#!/usr/bin/env python
"""Benchmark of the asset list, search and detail pages at scale.

    python bench/assets_list.py --assets 200000 [--reuse] [--iterations 60]

Creates (or with --reuse, keeps) a dedicated MariaDB database (``itassets_bench`` by default,
server from BENCH_DATABASE_URL, default ``mysql://root@127.0.0.1:3306/``), migrates it and
fills it with N assets, then measures through the real Django stack: Django's test client
(URL routing, middleware, session and auth, views, templates) in this process, logged in as
an asset clerk, with DEBUG off. No network or WSGI server is involved, so the figures are the
server-side time of a request. Prints one figure per line as ``name: value unit``; lines
starting with ``#`` are comments.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

WARMUP = 10


def _prepare_environment(server_url: str, database: str) -> None:
    """Create the bench database and point Django at it (before django.setup())."""
    import MySQLdb

    parts = urlsplit(server_url)
    conn = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
    )
    try:
        conn.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        conn.close()
    os.environ["DATABASE_URL"] = server_url.rstrip("/") + f"/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itassets.settings")
    os.environ["DEBUG"] = "false"  # no query log, no template debug: production behaviour
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["SESSION_COOKIE_SECURE"] = "false"
    os.environ["CSRF_COOKIE_SECURE"] = "false"
    os.environ["STATIC_MANIFEST"] = "false"
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _reset_database(database: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        cursor.execute("SHOW TABLES")
        for (table,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE `{table}`")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# The process CPU time of the samples _time_ms took last: on a shared machine the wall-clock
# figures include waiting for a core, the CPU time does not (printed as "#" lines).
LAST_CPU_MS: list[float] = []


def _time_ms(fn, iterations: int) -> list[float]:
    for _ in range(WARMUP):
        fn(0)
    samples = []
    LAST_CPU_MS.clear()
    for i in range(iterations):
        cpu = time.process_time()
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
        LAST_CPU_MS.append((time.process_time() - cpu) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data if it has N assets")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--database", default="itassets_bench")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    if "bench" not in args.database:
        parser.error("--database must be a dedicated benchmark database (name containing 'bench')")
    server = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/")
    _prepare_environment(server, args.database)

    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from assets.models import Asset, Department
    from itassets.roles import ROLES

    print("# bench/assets_list.py: Django test client in-process (real URL routing, middleware,")
    print(
        "# session/auth, views, templates), DEBUG off, MariaDB database "
        f"`{args.database}`, logged in as an asset clerk"
    )

    have = 0
    if args.reuse:
        try:
            have = Asset.objects.count()
        except Exception:  # no tables yet
            have = 0
    if have != args.assets:
        started = time.monotonic()
        _reset_database(args.database)
        call_command("migrate", verbosity=0, interactive=False)
        import _data

        _data.seed(assets=args.assets, seed=args.seed, log=print)
        print(f"# data created in {time.monotonic() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE TABLE assets_asset")
            cursor.fetchall()
    else:
        call_command("migrate", verbosity=0, interactive=False)
        print(f"# reusing {have:,} assets")

    user_model = get_user_model()
    clerk, _ = user_model.objects.get_or_create(username="bench-clerk")
    clerk.groups.add(Group.objects.get(name=ROLES["clerk"].group))
    client = Client()
    client.force_login(clerk)

    # Inputs: tags spread over the table, a department with sub-departments, a name part.
    rng = random.Random(args.seed)
    max_id = Asset.objects.order_by("-id").values_list("id", flat=True).first()
    sample_ids = [rng.randrange(1, max_id + 1) for _ in range(200)]
    tags = list(Asset.objects.filter(id__in=sample_ids).values_list("tag", flat=True))
    parent = (
        Department.objects.filter(depth=2).order_by("-numchild", "path").first()
        or Department.objects.first()
    )
    substring = "Carbon"

    def get(url, params=None, *, htmx=False):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = client.get(url, params or {}, **headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} {params} answered {response.status_code}")
        return response

    def report(name: str, samples: list[float], *, p50: bool = False) -> None:
        if p50:
            print(f"{name.replace('_p95', '_p50')}: {statistics.median(samples):.1f} ms")
        print(f"{name}: {_percentile(samples, 95):.1f} ms")
        cpu = LAST_CPU_MS
        print(
            f"# {name.removesuffix('_p95_ms')} process CPU per request: "
            f"p50 {statistics.median(cpu):.1f} ms, p95 {_percentile(cpu, 95):.1f} ms"
        )

    n = args.iterations
    print(f"# {Asset.objects.count():,} assets; {n} iterations after {WARMUP} warm-up each")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # One pass over every page first, so no figure pays for the others' cold caches.
    for params in (
        {},
        {"page": 2000},
        {"department": parent.pk, "status": "in_use"},
        {"q": tags[0]},
        {"q": substring},
    ):
        get("/assets/", params)
    get(f"/assets/{tags[0]}/")

    first = _time_ms(lambda i: get("/assets/"), n)
    report("list_p95_ms", first, p50=True)

    deep = _time_ms(lambda i: get("/assets/", {"page": 2000 + i % 3, "per_page": 25}), n)
    report("list_deep_p95_ms", deep)

    print(f"# filtered: department {parent.full_name} (incl. children) + status in_use")
    filtered = _time_ms(lambda i: get("/assets/", {"department": parent.pk, "status": "in_use"}), n)
    report("filtered_p95_ms", filtered)

    exact = _time_ms(lambda i: get("/assets/", {"q": tags[i % len(tags)]}), n)
    report("search_exact_p95_ms", exact)
    # What the search box itself sends while typing: the htmx request for the table only.
    exact_htmx = _time_ms(lambda i: get("/assets/", {"q": tags[i % len(tags)]}, htmx=True), n)
    report("search_exact_htmx_p95_ms", exact_htmx)

    print(f"# substring: name contains {substring!r}; no-match: a name part nothing has")
    sub = _time_ms(lambda i: get("/assets/", {"q": substring}), n)
    report("search_substring_p95_ms", sub)
    nomatch = _time_ms(lambda i: get("/assets/", {"q": "无此名称"}), max(10, n // 5))
    report("search_substring_nomatch_p95_ms", nomatch)

    detail = _time_ms(lambda i: get(f"/assets/{tags[i % len(tags)]}/"), n)
    report("detail_p95_ms", detail)

    from django.core.cache import cache

    from assets.selectors import DASHBOARD_CACHE_KEY

    def home_uncached(_i):
        cache.delete(DASHBOARD_CACHE_KEY)
        get("/")

    print("# home: all-scope counts cached 60 s; uncached = the GROUP BYs of a cache miss")
    report("home_p95_ms", _time_ms(lambda i: get("/"), n))
    report("home_uncached_p95_ms", _time_ms(home_uncached, max(10, n // 5)))

    counts = {}
    for per_page in (10, 25, 100):
        with CaptureQueriesContext(connection) as ctx:
            get("/assets/", {"per_page": per_page})
        counts[per_page] = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        get("/assets/")
    list_sql = [q["sql"] for q in ctx.captured_queries if "`assets_asset`" in q["sql"]]
    print(f"# queries per list page at 10/25/100 rows: {counts[10]}/{counts[25]}/{counts[100]}")
    print(f"list_queries: {counts[25]} count")

    def raw(_i):
        with connection.cursor() as cursor:
            for sql in list_sql:
                cursor.execute(sql)
                cursor.fetchall()

    print(f"# raw SQL: the first page's asset statement(s) ({len(list_sql)}) run via cursor")
    report("raw_sql_p95_ms", _time_ms(raw, n))
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    _explain(clerk, parent)
    return 0


def _explain(user, department) -> None:
    """EXPLAIN of the id query of the pages measured and of every sort (as '#' lines)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assets import selectors

    cases = [
        ("default sort", {}, 1),
        ("department+status", {"department": department.pk, "status": ["in_use"]}, 1),
        ("deep page 2000", {}, 2000),
    ]
    cases += [(f"sort -{key}", {"sort": f"-{key}"}, 1) for key in selectors.LIST_SORTS]
    for label, filters, page in cases:
        with CaptureQueriesContext(connection) as ctx:
            selectors.asset_list_page(user=user, filters=filters, page=page, per_page=25)
        sql = next(q["sql"] for q in ctx.captured_queries if "capped_total" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            columns = [c[0] for c in cursor.description]
            plan = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        # Each access to the asset table: the page's ids, the capped count, the row fetch.
        on_table = [r for r in plan if r["table"] == "assets_asset"]
        steps = [f"{r['select_type'].lower()}:{r['key']}({r['Extra'] or '-'})" for r in on_table]
        filesort = any("filesort" in (r["Extra"] or "") for r in on_table)
        print(f"# explain {label}: {'FILESORT ' if filesort else ''}{' | '.join(steps)}")


if __name__ == "__main__":
    sys.exit(main())
