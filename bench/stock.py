#!/usr/bin/env python
"""Benchmark of stock posting under contention and of the stock ledger page at scale.

    python bench/stock.py [--requests 200] [--stock 100] [--clients 32]
                          [--ledger-rows 1000000] [--reuse-ledger] [--iterations 200]

1. Stock-out race through the real HTTP stack: gunicorn started as the image's entrypoint
   starts it (``deploy/gunicorn.conf.py``: gthread workers and threads from GUNICORN_WORKERS /
   GUNICORN_THREADS or the file's defaults, overridden by ``--workers`` / ``--threads``;
   Prometheus multiprocess directory), DEBUG off, the production settings module, on a free
   loopback port, against a dedicated MariaDB database (``itassets_bench_stock``; server from
   BENCH_DATABASE_URL, default ``mysql://root@127.0.0.1:3306/``) and Redis for the cache and
   sessions as in production (BENCH_REDIS_URL, default ``redis://127.0.0.1:6379/14``; empty:
   the in-process cache). A keeper logs in through the login page (session cookie
   and CSRF token, as a browser or a scanner does), then ``--clients`` client threads send
   ``--requests`` concurrent one-unit issues of one hot item holding ``--stock`` units to
   ``POST /inventory/api/issue/`` (each with its own Idempotency-Key). Afterwards the database
   is checked: the balance, the ledger chain, the posted documents. Comment lines add the CPU
   time per request of gunicorn (master and workers), of the MariaDB server (when it runs on
   this machine; it counts whatever else the server does meanwhile) and of this client, and how
   often the hot stock row passed from one posting to the next.
2. The ledger page at ``--ledger-rows`` ledger entries (generated directly in SQL with
   MariaDB's sequence engine, spread over 50 items × 4 warehouses as consistent running
   balances), timed through Django's test client in this process (URL routing, middleware,
   session and auth, the view): the item page's ledger if the pages exist, else the JSON
   ledger endpoint.

Prints one figure per line as ``name: value unit``; lines starting with ``#`` are comments.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "Bench-Keeper-2026!"
LEDGER_ITEMS = 50
LEDGER_WAREHOUSES = 4
WARMUP = 20


def _prepare_environment(server_url: str, database: str) -> None:
    """Create the bench database and point Django (here and in gunicorn) at it."""
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
    os.environ["DJANGO_SETTINGS_MODULE"] = "itassets.settings"
    # Production keeps the cache (and so the sessions) in Redis; BENCH_REDIS_URL="" runs with
    # the in-process cache instead. DB 14: the tests use 15.
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    # Plain HTTP on loopback (TLS ends at the reverse proxy in production).
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["SESSION_COOKIE_SECURE"] = "false"
    os.environ["CSRF_COOKIE_SECURE"] = "false"
    os.environ["STATIC_MANIFEST"] = "false"
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _reset_database() -> None:
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Reference data ---------------------------------------------------------------------------


def _keeper_and_warehouses(count: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from assets.models import Location, Person
    from inventory.models import Warehouse
    from itassets.roles import ROLES

    user_model = get_user_model()
    keeper = user_model.objects.filter(username="bench-keeper").first()
    if keeper is None:
        keeper = user_model.objects.create_user(username="bench-keeper", password=PASSWORD)
    keeper.set_password(PASSWORD)
    keeper.save()
    keeper.groups.add(Group.objects.get(name=ROLES["keeper"].group))
    warehouses = []
    for n in range(1, count + 1):
        location = Location.objects.filter(code=f"BENCH-WH{n}").first()
        if location is None:
            location = Location.objects.add_root(
                instance=Location(
                    code=f"BENCH-WH{n}", name=f"基准仓{n}", kind="room", is_warehouse=True
                )
            )
        warehouse, _ = Warehouse.objects.get_or_create(location=location)
        warehouse.keepers.add(keeper)
        warehouses.append(warehouse)
    person, _ = Person.objects.get_or_create(employee_no="BENCH-E1", defaults={"name": "领用人"})
    return keeper, warehouses, person


# --- Stock-out race over HTTP -----------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 if it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _database_pid() -> int | None:
    """The local MariaDB/MySQL server process, if it runs on this machine (for CPU figures)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    return int(entry.name)
            except OSError:
                continue
    return None


class Server:
    """gunicorn serving itassets.wsgi on a loopback port, in its own process group, with the
    production configuration file (deploy/gunicorn.conf.py) and the environment the image's
    entrypoint gives the web role (Prometheus multiprocess directory)."""

    def __init__(self, *, workers: int | None, threads: int | None, log: Path):
        self.port = _free_port()
        self.log = log
        env = os.environ.copy()
        env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        if workers:
            env["GUNICORN_WORKERS"] = str(workers)
        if threads:
            env["GUNICORN_THREADS"] = str(threads)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(log.with_suffix(".prometheus"))
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            f"--config={ROOT / 'deploy' / 'gunicorn.conf.py'}",
            "itassets.wsgi:application",
        ]
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers."""
        pids = [self.proc.pid, *_children(self.proc.pid)]
        return sum(_cpu_seconds(pid) for pid in pids)

    def workers(self) -> int:
        return len(_children(self.proc.pid))

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}); log: {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer /health within {timeout:.0f} s; log: {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log_file.close()
        shutil.rmtree(self.log.with_suffix(".prometheus"), ignore_errors=True)


def _gunicorn_config(args) -> dict:
    """The settings deploy/gunicorn.conf.py gives gunicorn with this environment."""
    import runpy

    env = {"GUNICORN_WORKERS": args.workers, "GUNICORN_THREADS": args.threads}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items() if v})
    try:
        return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cookies(response, jar: dict) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def _cookie_header(jar: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _login(port: int) -> dict:
    """Log in through the login page like a browser: returns the cookie jar."""
    jar: dict[str, str] = {"django_language": "zh-hans"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/accounts/login/", headers={"Cookie": _cookie_header(jar)})
    response = conn.getresponse()
    page = response.read().decode()
    _cookies(response, jar)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode(
        {"username": "bench-keeper", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": _cookie_header(jar),
            "Referer": f"http://127.0.0.1:{port}/accounts/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    _cookies(response, jar)
    if response.status != 302 or "sessionid" not in jar:
        raise SystemExit(f"bench login failed: HTTP {response.status}")
    conn.close()
    return jar


def _race(port: int, jar: dict, *, payload: dict, requests: int, clients: int):
    """Send ``requests`` issues from ``clients`` threads at once; returns (statuses, bodies,
    latencies in ms, elapsed seconds)."""
    headers = {
        "Content-Type": "application/json",
        "Cookie": _cookie_header(jar),
        "X-CSRFToken": jar["csrftoken"],
        "Referer": f"http://127.0.0.1:{port}/",
    }
    tasks = list(range(requests))
    lock = threading.Lock()
    results: list[tuple[int, dict, float]] = []
    start = threading.Barrier(clients + 1)
    body = json.dumps(payload)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        while True:
            with lock:
                if not tasks:
                    break
                tasks.pop()
            t0 = time.perf_counter()
            conn.request(
                "POST",
                "/inventory/api/issue/",
                body=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            response = conn.getresponse()
            data = response.read()
            ms = (time.perf_counter() - t0) * 1000
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = {"raw": data[:200].decode(errors="replace")}
            with lock:
                results.append((response.status, parsed, ms))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return results, elapsed


def bench_stockout(args, keeper, warehouse, person) -> None:
    from decimal import Decimal

    from django.db.models import Sum

    from inventory import services
    from inventory.models import Document, Item, LedgerEntry, Stock

    # A fresh hot item each run, holding --stock units.
    code = f"HOT-{time.strftime('%Y%m%d%H%M%S')}"
    item = Item.objects.create(code=code, name="硒鼓（压测）", unit="盒")
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": args.stock, "unit_cost": "350.00"}],
    )
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-stock-gunicorn-{os.getpid()}.log"
    server = Server(workers=args.workers, threads=args.threads, log=log)
    try:
        server.wait()
        jar = _login(server.port)
        payload = {
            "warehouse": warehouse.pk,
            "item": item.pk,
            "quantity": 1,
            "person": person.pk,
        }
        # Warm every worker (imports, connections) on another item, then race.
        warm = Item.objects.create(code=f"{code}-W", name="预热", unit="个")
        services.document_create_and_post(
            actor=keeper,
            type="receipt",
            warehouse=warehouse,
            lines=[{"item": warm, "quantity": 1000, "unit_cost": "1"}],
        )
        _race(
            server.port,
            jar,
            payload={**payload, "item": warm.pk},
            requests=60,
            clients=args.clients,
        )
        db_pid = _database_pid()
        cpu_server, cpu_db = server.cpu_seconds(), _cpu_seconds(db_pid) if db_pid else 0.0
        cpu_client = time.process_time()
        results, elapsed = _race(
            server.port, jar, payload=payload, requests=args.requests, clients=args.clients
        )
        cpu_client = time.process_time() - cpu_client
        cpu_server = server.cpu_seconds() - cpu_server
        cpu_db = (_cpu_seconds(db_pid) - cpu_db) if db_pid else None
        workers = server.workers()
    finally:
        server.stop()

    ok = [r for r in results if r[0] == 200 and r[1].get("posted")]
    refused = [r for r in results if r[0] == 409]
    other = [r for r in results if r not in ok and r not in refused]
    final = Stock.objects.get(item=item, warehouse=warehouse).quantity
    entries = LedgerEntry.objects.filter(item=item, warehouse=warehouse).order_by("id")
    issued = -(entries.filter(quantity__lt=0).aggregate(s=Sum("quantity"))["s"] or Decimal(0))
    posted_docs = Document.objects.filter(type="issue", status="posted", lines__item=item).count()
    # Lost updates: units the balance lost or kept that no posted issue accounts for.
    lost = abs((Decimal(args.stock) - final) - len(ok)) + abs(issued - len(ok))
    running, broken = Decimal(0), 0
    for quantity, after in entries.values_list("quantity", "balance_after"):
        running += quantity
        broken += running != after
    # The postings queue on the hot stock row; the time between two postings' timestamps is how
    # often one got through. (posted_at is taken once the row is locked on the transactional
    # path, just before the one locking statement on MariaDB's one-statement path.)
    posted = sorted(entries.filter(quantity__lt=0).values_list("posted_at", flat=True))
    gaps = [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(posted)]
    latencies = [r[2] for r in results]
    config = _gunicorn_config(args)
    print(
        f"# {args.requests} concurrent 1-unit issues of one item holding {args.stock}, "
        f"{args.clients} client threads, gunicorn (deploy/gunicorn.conf.py) {workers} workers × "
        f"{config['threads']} threads ({config['worker_class']}), {os.cpu_count()} CPUs "
        "shared with MariaDB and this client"
    )
    n = len(results)
    db_cpu = "not measured" if cpu_db is None else f"{cpu_db / n * 1000:.2f} ms"
    print(
        f"# CPU per request during the race: gunicorn {cpu_server / n * 1000:.2f} ms, "
        f"MariaDB server {db_cpu} (with any other client it serves meanwhile), "
        f"bench client {cpu_client / n * 1000:.2f} ms"
    )
    if gaps:
        print(
            f"# hot row: a posting got through every {statistics.median(gaps):.1f} ms "
            f"(median; mean {statistics.mean(gaps):.1f} ms) while {len(ok)} postings queued "
            "on its lock"
        )
    if refused:
        print(f"# a refusal says: {refused[0][1].get('message')}")
    if other:
        print(f"# unexpected answers: {[(r[0], r[1]) for r in other[:3]]}")
    print(f"stockout_ok: {len(ok)}")
    print(f"stockout_refused: {len(refused)}")
    print(f"stockout_errors: {len(other)}")
    print(f"stockout_final_qty: {final.normalize():f}")
    print(f"stockout_posted_documents: {posted_docs}")
    print(f"stockout_ledger_chain_breaks: {broken}")
    print(f"stockout_lost_updates: {lost.normalize():f}")
    print(f"stockout_p50_ms: {statistics.median(latencies):.1f} ms")
    print(f"stockout_p95_ms: {_percentile(latencies, 95):.1f} ms")
    print(f"stockout_per_s: {len(results) / elapsed:.0f} req/s")
    print(f"stockout_server_cpu_per_request_ms: {cpu_server / n * 1000:.2f} ms")


# --- Ledger page at 1,000,000 rows ------------------------------------------------------------


def _generate_ledger(rows: int, keeper, warehouses) -> list:
    """``rows`` ledger entries over LEDGER_ITEMS items × warehouses, as consistent running
    balances (+2, −1, +2, −1, … per (item, warehouse)), inserted with one INSERT … SELECT
    from MariaDB's sequence engine; the stock rows are set to the final balances."""
    from django.db import connection, transaction

    from inventory import services
    from inventory.models import DocumentLine, Item, LedgerEntry, Stock

    items = []
    for n in range(LEDGER_ITEMS):
        item, _ = Item.objects.get_or_create(
            code=f"LEDGER-{n:03d}", defaults={"name": f"台账物料{n}", "unit": "个"}
        )
        items.append(item)
    seed = services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouses[0],
        lines=[{"item": items[0], "quantity": 1, "unit_cost": "5.00"}],
    ).document
    line = DocumentLine.objects.get(document=seed)
    k, w = len(items), len(warehouses)
    item_ids = ", ".join(str(i.pk) for i in items)
    wh_ids = ", ".join(str(x.pk) for x in warehouses)
    table = LedgerEntry._meta.db_table
    sql = f"""
        INSERT INTO {table} (item_id, warehouse_id, document_id, line_id, quantity,
                             balance_after, unit_cost, value_change, value_after, posted_at)
        SELECT ELT(seq % {k} + 1, {item_ids}),
               ELT((seq DIV {k}) % {w} + 1, {wh_ids}),
               {seed.pk}, {line.pk},
               IF((seq DIV {k * w}) % 2 = 0, 2, -1),
               IF((seq DIV {k * w}) % 2 = 0, (seq DIV {k * w}) DIV 2 + 2,
                  (seq DIV {k * w}) DIV 2 + 1),
               5.0000,
               IF((seq DIV {k * w}) % 2 = 0, 10.00, -5.00),
               5.00 * IF((seq DIV {k * w}) % 2 = 0, (seq DIV {k * w}) DIV 2 + 2,
                         (seq DIV {k * w}) DIV 2 + 1),
               NOW(6) - INTERVAL ({rows} - seq) SECOND
        FROM seq_0_to_{rows - 1}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.execute(
            f"""
            INSERT INTO {Stock._meta.db_table}
                (item_id, warehouse_id, quantity, average_cost, value, updated_at)
            SELECT item_id, warehouse_id, SUM(quantity), 5.0000, SUM(value_change), NOW(6)
            FROM {table} WHERE item_id IN ({item_ids}) GROUP BY item_id, warehouse_id
            ON DUPLICATE KEY UPDATE quantity = VALUES(quantity), value = VALUES(value)
            """
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE TABLE {table}")
        cursor.fetchall()
    return items


def bench_ledger(args, keeper, warehouses) -> None:
    import random

    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from inventory.models import Item, LedgerEntry

    have = LedgerEntry.objects.count()
    if have < args.ledger_rows or not args.reuse_ledger:
        started = time.monotonic()
        if have:
            with connection.cursor() as cursor:  # keep the posting figures' rows only
                cursor.execute(
                    f"DELETE FROM {LedgerEntry._meta.db_table} WHERE item_id IN "
                    f"(SELECT id FROM {Item._meta.db_table} WHERE code LIKE 'LEDGER-%%')"
                )
        items = _generate_ledger(args.ledger_rows, keeper, warehouses)
        print(f"# {args.ledger_rows:,} ledger rows generated in {time.monotonic() - started:.1f} s")
    else:
        items = list(Item.objects.filter(code__startswith="LEDGER-").order_by("code"))
    total = LedgerEntry.objects.count()
    item = items[0]
    per_item = LedgerEntry.objects.filter(item=item).count()
    ids = list(
        LedgerEntry.objects.filter(item=item).order_by("-id").values_list("id", flat=True)[::997]
    )

    client = Client()
    client.force_login(keeper)
    client.cookies["django_language"] = "zh-hans"
    page_url, what = None, ""
    for name in ("inventory:item_detail", "inventory:item_ledger"):
        try:
            page_url, what = reverse(name, args=[item.pk]), f"the item page ({name})"
            break
        except NoReverseMatch:
            continue
    if page_url is not None and client.get(page_url).status_code != 200:
        page_url = None
    if page_url is None:
        page_url, what = reverse("inventory:api_ledger", args=[item.pk]), "the JSON ledger endpoint"

    def get(params):
        response = client.get(page_url, params)
        if response.status_code != 200:
            raise SystemExit(f"GET {page_url} {params} answered {response.status_code}")

    rng = random.Random(2026)
    for _ in range(WARMUP):
        get({})
    first, deep, one_wh = [], [], []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        get({})
        first.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        get({"before": rng.choice(ids)})
        deep.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        get({"warehouse": warehouses[-1].pk, "before": rng.choice(ids)})
        one_wh.append((time.perf_counter() - t0) * 1000)
    print(
        f"# ledger: {total:,} rows, {per_item:,} of them for the item timed; {what} through "
        f"Django's test client in-process (DEBUG off), {args.iterations} iterations each"
    )
    print(f"ledger_page_p50_ms: {statistics.median(first):.1f} ms")
    print(f"ledger_page_p95_ms: {_percentile(first, 95):.1f} ms")
    print(f"ledger_page_deep_p95_ms: {_percentile(deep, 95):.1f} ms")
    print(f"ledger_page_warehouse_p95_ms: {_percentile(one_wh, 95):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--clients", type=int, default=32)
    # gunicorn as production runs it: deploy/gunicorn.conf.py, whose numbers come from the
    # environment (GUNICORN_WORKERS, GUNICORN_THREADS); these override them.
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--reuse-ledger", action="store_true")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--database", default="itassets_bench_stock")
    parser.add_argument("--skip-ledger", action="store_true")
    parser.add_argument("--skip-stockout", action="store_true")
    args = parser.parse_args()
    if "bench" not in args.database:
        parser.error("--database must be a dedicated benchmark database (name containing 'bench')")

    server = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/")
    _prepare_environment(server, args.database)

    import django

    django.setup()
    from django.core.management import call_command

    print(
        f"# bench/stock.py: MariaDB database `{args.database}`, DEBUG off; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if not args.reuse_ledger:
        _reset_database()
    call_command("migrate", verbosity=0, interactive=False)
    keeper, warehouses, person = _keeper_and_warehouses(LEDGER_WAREHOUSES)
    if not args.skip_stockout:
        bench_stockout(args, keeper, warehouses[0], person)
    if not args.skip_ledger:
        bench_ledger(args, keeper, warehouses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
