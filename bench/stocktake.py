#!/usr/bin/env python
"""Benchmark of stocktake scanning: 8 counters scanning one stocktake of 20,000 assets at once.

    python bench/stocktake.py [--expected 20000] [--scans 4000] [--scanners 8] [--reuse]

1. Data, in a dedicated MariaDB database (``itassets_bench_stocktake``; server from
   BENCH_DATABASE_URL, default ``mysql://root@127.0.0.1:3306/``): the demo organisation and
   catalog (``bench/_data.py``), then assets topped up so that exactly ``--expected`` are in
   the stocktake's scope (every location; states an asset is counted in). ``--reuse`` keeps
   the data when the count matches.
2. A stocktake of all locations with ``--scanners`` counters (asset clerks) is created and
   started through the service: ``freeze_ms`` is the start (INSERT … SELECT of the list).
3. gunicorn (deploy/gunicorn.conf.py, gthread, DEBUG off) on a free loopback port. Each
   counter logs in through the login page (session cookie, CSRF token), then the scanners
   (one thread and one keep-alive connection each) post ``--scans`` scans to
   ``POST /inventory/stocktakes/<pk>/scan/`` as the scanning page's script does (urlencoded
   body, client-generated scan id, ``Accept: application/json``): distinct expected assets
   (90 % at their expected location, 10 % elsewhere in scope), 5 % duplicates (half scanned
   again with a new id, half the same request retried with the same id, as after a network
   error) and 2 % unknown codes, all shuffled so duplicates often race their originals on
   another connection.
4. The database is checked: one scan row per distinct scan id, one found line per distinct
   expected asset scanned, nothing else found, every answer 200 (``lost_or_duplicated`` adds
   up every difference and must be 0).
5. The stocktake is closed (``close_ms``) and its closing report built: ``report_ms`` is the
   report page as the manager opens it (counts and values per result and per location, the
   unknown codes, the first lines of every section), ``report_xlsx_ms`` the Excel workbook of
   every line, and with ``--pdf`` ``report_pdf_ms`` the printable PDF.

Prints one figure per line as ``name: value unit``; lines starting with ``#`` are comments.
CPU per scan (gunicorn sampled every 0.1 s, MariaDB, this client) is printed too: on a shared
machine wall-clock figures include waiting for CPUs that other processes use, and MariaDB's
CPU includes whatever else the server runs meanwhile.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stock  # noqa: E402 (bench/stock.py: environment, gunicorn server, CPU helpers)

PASSWORD = "Bench-Counter-2026!"
BENCH_PREFIX = "BENCH 盘点"
WARMUP_SCANS = 80


# --- Data -------------------------------------------------------------------------------------


def _expected_assets():
    from assets.models import Asset
    from inventory.services.stocktakes import EXPECTED_STATUSES

    return Asset.objects.filter(status__in=EXPECTED_STATUSES, location__isnull=False)


def _top_up(target: int, seed: int) -> None:
    """Add assets in stock in rooms (the model's default state) until ``target`` are
    expected."""
    import _data
    from django.db import transaction

    from assets.models import Asset, AssetModel, Location, Person

    missing = target - _expected_assets().count()
    if missing < 0:
        raise SystemExit(f"more than {target} expected assets already: use a fresh database")
    if not missing:
        return
    rng = random.Random(seed + 1)
    rooms = list(
        Location.objects.filter(is_warehouse=False, kind=Location.Kind.ROOM).values_list(
            "id", flat=True
        )
    )
    people = list(Person.objects.values_list("id", "department_id"))
    models = list(AssetModel.objects.values_list("id", "category_id", "manufacturer_id", "name"))
    tags = _data._reserve_tags(missing)
    batch = []
    for i, tag in enumerate(tags):
        model_id, category_id, manufacturer_id, name = rng.choice(models)
        _holder, department_id = rng.choice(people)
        batch.append(
            Asset(
                tag=tag,
                model_id=model_id,
                category_id=category_id,
                manufacturer_id=manufacturer_id,
                name=name,
                serial_number=f"STK{i:09d}",
                # the default state, in stock (the register's lifecycle is not benchmarked)
                department_id=department_id,
                location_id=rng.choice(rooms),
                cost=rng.randrange(100_000, 1_500_000) / 100,
            )
        )
    with transaction.atomic():
        Asset.objects.bulk_create(batch, batch_size=_data.BATCH)


def _users(count: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itassets.roles import ROLES

    group = Group.objects.get(name=ROLES["clerk"].group)
    users = []
    for n in range(count + 1):  # the manager and the counters
        user, _ = get_user_model().objects.get_or_create(username=f"bench-stk{n}")
        user.set_password(PASSWORD)
        user.save()
        user.groups.add(group)
        users.append(user)
    return users[0], users[1:]


def _prepare_data(args) -> None:
    import _data
    from django.core.management import call_command
    from django.db import connection

    have = 0
    if args.reuse:
        try:
            call_command("migrate", verbosity=0, interactive=False)
            have = _expected_assets().count()
        except Exception:  # no tables yet
            have = 0
    if have == args.expected:
        print(f"# reusing {have:,} expected assets")
        return
    started = time.monotonic()
    stock._reset_database()
    call_command("migrate", verbosity=0, interactive=False)
    # The demo register's mix (in use, in stock, disposed, lost, …), then topped up.
    _data.seed(assets=args.expected // 2, seed=args.seed, log=print)
    _top_up(args.expected, args.seed)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE assets_asset")
        cursor.fetchall()
    print(f"# data created in {time.monotonic() - started:.1f} s")


# --- Scanning over HTTP -----------------------------------------------------------------------


def _login(port: int, username: str) -> dict:
    """Log in through the login page like a browser: returns the cookie jar."""
    import re

    jar: dict[str, str] = {"django_language": "zh-hans"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/accounts/login/", headers={"Cookie": stock._cookie_header(jar)})
    response = conn.getresponse()
    page = response.read().decode()
    stock._cookies(response, jar)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": stock._cookie_header(jar),
            "Referer": f"http://127.0.0.1:{port}/accounts/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    stock._cookies(response, jar)
    if response.status != 302 or "sessionid" not in jar:
        raise SystemExit(f"bench login of {username} failed: HTTP {response.status}")
    conn.close()
    return jar


def _plan(args, stocktake) -> list[dict]:
    """The scans to send, shuffled: first scans of distinct expected assets, duplicates
    (re-scans with a new id and retries with the same id) and unknown codes."""
    from inventory.models import StocktakeExpected

    rng = random.Random(args.seed)
    lines = list(
        StocktakeExpected.objects.filter(stocktake=stocktake)
        .order_by("id")
        .values_list("tag", "expected_location_id")
    )
    locations = sorted({loc for _tag, loc in lines})
    unknown = round(args.scans * args.unknown)
    duplicates = round(args.scans * args.duplicates)
    firsts = args.scans - unknown - duplicates
    chosen = rng.sample(lines, firsts)
    scans = []
    for tag, location in chosen:
        if rng.random() < 0.10:  # found somewhere else in scope: 位置不符
            location = rng.choice([x for x in rng.sample(locations, 2) if x != location])
        scans.append({"scan_id": str(uuid.uuid4()), "code": tag, "location": location})
    retried = duplicates // 2
    for n in range(duplicates):
        original = rng.choice(scans[:firsts])
        if n < retried:  # the same request again (same scan id): counts once
            scans.append(dict(original, retry=True))
        else:  # the same label scanned again: recorded as a duplicate
            scans.append(dict(original, scan_id=str(uuid.uuid4()), rescan=True))
    for n in range(unknown):
        scans.append(
            {"scan_id": str(uuid.uuid4()), "code": f"UNKNOWN-{n:04d}", "location": locations[0]}
        )
    rng.shuffle(scans)
    return scans


def _scan_all(port: int, url: str, jars: list[dict], scans: list[dict]):
    """Each scanner (thread, keep-alive connection, own session) takes the next scan until
    none is left. Returns [(scan, status, answer, ms)] and the elapsed seconds."""
    pending = list(reversed(scans))
    lock = threading.Lock()
    results: list[tuple[dict, int, dict, float]] = []
    start = threading.Barrier(len(jars) + 1)

    def scanner(jar: dict) -> None:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Cookie": stock._cookie_header(jar),
            "X-CSRFToken": jar["csrftoken"],
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        while True:
            with lock:
                if not pending:
                    break
                scan = pending.pop()
            body = urlencode(
                {"scan_id": scan["scan_id"], "code": scan["code"], "location": scan["location"]}
            )
            t0 = time.perf_counter()
            conn.request("POST", url, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            ms = (time.perf_counter() - t0) * 1000
            try:
                answer = json.loads(data)
            except ValueError:
                answer = {"raw": data[:200].decode(errors="replace")}
            with lock:
                results.append((scan, response.status, answer, ms))
        conn.close()

    threads = [threading.Thread(target=scanner, args=(jar,)) for jar in jars]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return results, time.perf_counter() - began


def _verify(stocktake, scans: list[dict], results) -> tuple[int, list[str]]:
    """Differences between what was sent and what the database holds (0: none)."""
    from inventory.models import StocktakeExpected, StocktakeScan

    notes = []
    ids = {s["scan_id"] for s in scans}
    rows = StocktakeScan.objects.filter(stocktake=stocktake)
    row_count = rows.count()
    distinct_row_ids = rows.values("scan_id").distinct().count()
    expected_tags = {s["code"] for s in scans if not s["code"].startswith("UNKNOWN-")}
    found_lines = StocktakeExpected.objects.filter(
        stocktake=stocktake, result__in=("found", "location_mismatch", "holder_mismatch")
    )
    found = found_lines.count()
    found_scanned = found_lines.filter(tag__in=expected_tags).count()
    rescans = sum(1 for s in scans if s.get("rescan"))
    duplicates = rows.filter(result="duplicate").count()
    errors = [r for r in results if r[1] != 200]
    differences = (
        abs(row_count - len(ids))
        + abs(distinct_row_ids - row_count)
        + abs(found - len(expected_tags))
        + abs(found_scanned - len(expected_tags))
        + abs(duplicates - rescans)
        + len(errors)
    )
    notes.append(
        f"# check: {row_count} scan rows for {len(ids)} distinct scan ids "
        f"({distinct_row_ids} distinct in the table); {found} lines found for "
        f"{len(expected_tags)} distinct expected assets scanned; {duplicates} duplicates "
        f"recorded for {rescans} re-scans; {len(errors)} answers other than 200"
    )
    if errors:
        notes.append(f"# first errors: {[(e[1], e[2]) for e in errors[:3]]}")
    return differences, notes


class CpuSampler:
    """CPU seconds used by gunicorn's master and workers between start() and stop(), sampled
    every 0.1 s so that workers recycled meanwhile (max_requests) still count; a worker
    forked during the run starts from zero."""

    def __init__(self, server):
        self.server = server
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, initial: bool = False) -> None:
        master = self.server.proc.pid
        for pid in [master, *stock._children(master)]:
            cpu = stock._cpu_seconds(pid)
            if pid not in self.first:
                self.first[pid] = cpu if initial else 0.0
            self.last[pid] = max(cpu, self.last.get(pid, 0.0))

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def start(self) -> None:
        self._sample(initial=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


# --- Main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expected", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=4_000)
    parser.add_argument("--scanners", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--unknown", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the data if it matches")
    parser.add_argument("--database", default="itassets_bench_stocktake")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pdf", action="store_true", help="also time the report's PDF")
    args = parser.parse_args()
    if "bench" not in args.database:
        parser.error("--database must be a dedicated benchmark database (name containing 'bench')")

    stock._prepare_environment(
        os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/"), args.database
    )
    import django

    django.setup()
    from django.urls import reverse

    from assets.models import Location
    from inventory.models import Stocktake
    from inventory.services import stocktakes as services

    print(
        f"# bench/stocktake.py: MariaDB database `{args.database}`, DEBUG off; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    _prepare_data(args)
    manager, counters = _users(args.scanners)
    # Earlier runs' stocktakes (their lines and scans) go; the register stays.
    Stocktake.objects.filter(name__startswith=BENCH_PREFIX).delete()
    roots = list(Location.objects.filter(depth=1))
    stocktake = services.stocktake_create(
        actor=manager,
        name=f"{BENCH_PREFIX} {time.strftime('%H:%M:%S')}",
        locations=roots,
        counters=counters,
    )
    t0 = time.perf_counter()
    services.stocktake_start(actor=manager, stocktake=stocktake)
    freeze_ms = (time.perf_counter() - t0) * 1000
    stocktake.refresh_from_db()
    if stocktake.expected_count != args.expected:
        raise SystemExit(f"{stocktake.expected_count} expected, not {args.expected}")
    warm = services.stocktake_create(
        actor=manager, name=f"{BENCH_PREFIX} warm-up", locations=roots, counters=counters
    )
    services.stocktake_start(actor=manager, stocktake=warm)
    scans = _plan(args, stocktake)
    warm_scans = [
        {"scan_id": str(uuid.uuid4()), "code": s["code"], "location": s["location"]}
        for s in scans[:WARMUP_SCANS]
    ]

    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-stocktake-gunicorn-{os.getpid()}.log"
    server = stock.Server(workers=args.workers, threads=args.threads, log=log)
    try:
        server.wait()
        jars = [_login(server.port, user.username) for user in counters]
        # Warm every worker (imports, connections, caches) on the warm-up stocktake.
        _scan_all(
            server.port, reverse("inventory:stocktake_scan", args=[warm.pk]), jars, warm_scans
        )
        db_pid = stock._database_pid()
        sampler = CpuSampler(server)
        sampler.start()
        cpu_db = stock._cpu_seconds(db_pid) if db_pid else 0.0
        cpu_client = time.process_time()
        results, elapsed = _scan_all(
            server.port, reverse("inventory:stocktake_scan", args=[stocktake.pk]), jars, scans
        )
        cpu_client = time.process_time() - cpu_client
        cpu_server = sampler.stop()
        cpu_db = (stock._cpu_seconds(db_pid) - cpu_db) if db_pid else None
        workers = server.workers()
    finally:
        server.stop()

    lost, notes = _verify(stocktake, scans, results)
    by_result: dict[str, int] = {}
    for _scan, status, answer, _ms in results:
        key = answer.get("result") or f"HTTP {status}"
        by_result[key] = by_result.get(key, 0) + 1

    t0 = time.perf_counter()
    services.stocktake_close(actor=manager, stocktake=stocktake)
    close_ms = (time.perf_counter() - t0) * 1000
    report_figures, report_note = _report(stocktake, manager, pdf=args.pdf)

    config = stock._gunicorn_config(args)
    n = len(results)
    latencies = [r[3] for r in results]
    print(
        f"# {n} scans by {args.scanners} scanners (own session and connection each) into a "
        f"stocktake of {args.expected:,} expected assets; gunicorn (deploy/gunicorn.conf.py) "
        f"{workers} workers × {config['threads']} threads ({config['worker_class']}), "
        f"{os.cpu_count()} CPUs shared with MariaDB and this client"
    )
    print(f"# answers: {json.dumps(by_result, ensure_ascii=False, sort_keys=True)}")
    db_cpu = "not measured" if cpu_db is None else f"{cpu_db / n * 1000:.2f} ms"
    print(
        f"# CPU per scan: gunicorn {cpu_server / n * 1000:.2f} ms, MariaDB {db_cpu}, "
        f"bench client {cpu_client / n * 1000:.2f} ms"
    )
    for note in notes:
        print(note)
    print(report_note)
    print(f"freeze_ms: {freeze_ms:.0f} ms")
    print(f"scan_p50_ms: {statistics.median(latencies):.1f} ms")
    print(f"scan_p95_ms: {stock._percentile(latencies, 95):.1f} ms")
    print(f"scans_per_s: {n / elapsed:.0f} scans/s")
    print(f"scan_server_cpu_ms: {cpu_server / n * 1000:.2f} ms")
    print(f"close_ms: {close_ms:.0f} ms")
    for name, value in report_figures.items():
        print(f"{name}: {value:.0f} ms")
    print(f"lost_or_duplicated: {lost}")
    return 0 if lost == 0 else 1


def _report(stocktake, manager, *, pdf: bool) -> tuple[dict[str, float], str]:
    """Time the closing report: ``report_ms`` builds the report page as the manager opens it
    (Django's test client in this process: the report's figures per result and location,
    the unknown codes, the first page of every section's lines, the template), median of 3;
    ``report_xlsx_ms`` the Excel workbook of every line; with ``--pdf`` the printable PDF."""
    from django.test import Client
    from django.urls import reverse

    from inventory.models import Stocktake
    from inventory.services.stocktake_results import stocktake_report
    from inventory.stocktake_export import write_report_xlsx

    stocktake = Stocktake.objects.get(pk=stocktake.pk)
    client = Client()
    client.force_login(manager)
    url = reverse("inventory:stocktake_report", args=[stocktake.pk])
    samples = []
    for _ in range(3):
        t0 = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    figures = {"report_ms": statistics.median(samples)}
    t0 = time.perf_counter()
    report = stocktake_report(stocktake=stocktake)
    out = io.BytesIO()
    write_report_xlsx(report, out)
    figures["report_xlsx_ms"] = (time.perf_counter() - t0) * 1000
    note = (
        f"# report: the report page (median of 3, {len(response.content) / 1024:.0f} KiB); "
        f"the workbook of all {report.expected:,} lines {len(out.getvalue()) / 1024:.0f} KiB"
    )
    if pdf:
        from inventory.stocktake_pdf import render_stocktake_report

        t0 = time.perf_counter()
        document = render_stocktake_report(stocktake_report(stocktake=stocktake))
        figures["report_pdf_ms"] = (time.perf_counter() - t0) * 1000
        note += f"; PDF {len(document) / 1024:.0f} KiB"
    return figures, note


if __name__ == "__main__":
    sys.exit(main())
