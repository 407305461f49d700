#!/usr/bin/env python
"""Benchmark of the reminder scan at scale.

    python bench/reminders.py --assets 1000000 [--reuse] [--no-concurrent]

Creates (or with --reuse, keeps) a dedicated MariaDB database (``itassets_bench_reminders``,
server from BENCH_DATABASE_URL, default ``mysql://root@127.0.0.1:3306/``), migrates it and
bulk-inserts minimal rows: the demo departments, 2,000 people with login accounts (a head per
department), 3 asset clerks, a default DingTalk robot, N assets (status mix of a mature
register, warranties ending over ±3 years, loans due over ±60 days), 5,000 handovers awaiting
confirmation and 500 pending approvals. Then, through the real services:

- ``reminder_select_ms``: evaluating every reminder rule (finding what is due today), median;
- ``reminder_run_s``: one scan creating every delivery (``dispatch=False``: no network, no
  broker), from empty delivery tables;
- ``reminder_rerun_s`` / ``rerun_created``: the same scan again (nothing new);
- ``concurrent_run_s``: two scans at once from empty tables (unless --no-concurrent);
- ``duplicates``: (dedup_key, recipient, channel) present more than once (must be 0);
- ``missed``: occurrences due that an independent SQL computation expects and no delivery has
  (must be 0).

Prints one figure per line as ``name: value unit``; lines starting with ``#`` are comments.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PEOPLE = 2_000
CLERKS = 3
HANDOVERS = 5_000
APPROVALS = 500
BATCH = 10_000
STATUS_WEIGHTS = {
    "in_use": 55,
    "in_stock": 18,
    "on_loan": 4,
    "in_repair": 3,
    "pending_disposal": 3,
    "disposed": 11,
    "lost": 1,
    "ordered": 5,
}


# --- Data -----------------------------------------------------------------------------------


def _people(rng: random.Random, log) -> tuple[list[tuple[int, int, int]], list[int]]:
    """2,000 people with users, a head per department, and the clerks. Returns
    [(person id, user id, department id)] and the clerk user ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from assets import demo
    from assets.models import Department, Person
    from itassets.roles import ROLES

    departments, _counts = demo.seed_departments()
    dept_ids = [d.pk for d in departments.values()]
    user_model = get_user_model()
    users = [
        user_model(username=f"bench{i:05d}", password="!", email=f"bench{i:05d}@example.cn")
        for i in range(PEOPLE)
    ]
    user_model.objects.bulk_create(users, batch_size=1000)
    users = list(user_model.objects.filter(username__startswith="bench").order_by("username"))
    people = [
        Person(
            employee_no=f"B{i:05d}",
            name=f"员工{i}",
            department_id=rng.choice(dept_ids),
            user=user,
            phone=f"138{i:08d}",
        )
        for i, user in enumerate(users)
    ]
    Person.objects.bulk_create(people, batch_size=1000)
    rows = list(
        Person.objects.filter(employee_no__startswith="B").values_list(
            "id", "user_id", "department_id"
        )
    )
    by_dept: dict[int, list[int]] = {}
    for pid, _uid, dept in rows:
        by_dept.setdefault(dept, []).append(pid)
    for dept in Department.objects.all():
        if by_dept.get(dept.pk):
            dept.head_id = by_dept[dept.pk][0]
            dept.save(update_fields=["head"])
    clerk_group = Group.objects.get(name=ROLES["clerk"].group)
    clerks = []
    for i in range(CLERKS):
        clerk = user_model.objects.create_user(
            username=f"bench-clerk{i}", email=f"clerk{i}@example.cn"
        )
        clerk.groups.add(clerk_group)
        clerks.append(clerk.pk)
    log(f"# {len(rows):,} people with accounts, {len(by_dept)} heads, {CLERKS} clerks")
    return rows, clerks


def _assets(count: int, rng: random.Random, people, log) -> None:
    import _data
    from django.db import connection, transaction

    models = _data._catalog()
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    today = date.today()
    now = datetime.utcnow()
    sql = (
        "INSERT INTO assets_asset (tag, name, status, order_number, invoice_number, "
        "purchase_date, cost, warranty_end, custom_fields, notes, created_at, updated_at, "
        "model_id, category_id, manufacturer_id, department_id, holder_id, due_date) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    started = time.monotonic()
    done = 0
    while done < count:
        rows = []
        for i in range(done, min(done + BATCH, count)):
            model, (low, high) = rng.choice(models)
            status = rng.choices(statuses, weights)[0]
            purchased = today - timedelta(days=rng.randrange(0, 6 * 365))
            holder = dept = due = None
            if status in ("in_use", "on_loan"):
                holder, _uid, dept = rng.choice(people)
            if status == "on_loan":
                due = today + timedelta(days=rng.randrange(-60, 61))
            rows.append(
                (
                    f"BR-{i:07d}",
                    model.name,
                    status,
                    "",
                    "",
                    purchased,
                    rng.randrange(low, high),
                    purchased + timedelta(days=3 * 365),
                    "{}",
                    "",
                    now,
                    now,
                    model.id,
                    model.category_id,
                    model.manufacturer_id,
                    dept,
                    holder,
                    due,
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        done += len(rows)
        if done % 100_000 == 0 or done == count:
            log(f"# {done:,} assets inserted ({time.monotonic() - started:.0f} s)")


def _workflow(rng: random.Random, people, now) -> None:
    from assets.models import ApprovalRequest, ApprovalStep, Asset, Handover

    Handover.objects.bulk_create(
        [
            Handover(
                number=f"JJ-B-{i:06d}",
                transition="assign",
                to_person_id=rng.choice(people)[0],
                created_at=now - timedelta(minutes=rng.randrange(0, 10 * 24 * 60)),
                needs_acceptance=True,
            )
            for i in range(HANDOVERS)
        ],
        batch_size=1000,
    )
    asset_ids = list(
        Asset.objects.filter(status="in_stock")
        .order_by("id")
        .values_list("id", flat=True)[: APPROVALS * 10 : 10]
    )
    approvals = ApprovalRequest.objects.bulk_create(
        [
            ApprovalRequest(
                asset_id=asset_id,
                transition="request_disposal",
                previous_status="in_stock",
                requested_at=now - timedelta(minutes=rng.randrange(0, 72 * 60)),
                current_step=1,
            )
            for asset_id in asset_ids
        ]
    )
    ApprovalStep.objects.bulk_create(
        [ApprovalStep(request=a, number=1, role="clerk") for a in approvals]
    )


def seed(*, assets: int, seed: int, log=print) -> None:
    from django.utils import timezone

    from notifications.models import Channel, Robot

    rng = random.Random(seed)  # benchmark data, not security
    started = time.monotonic()
    people, _clerks = _people(rng, log)
    Robot.objects.create(
        name="bench", kind=Channel.DINGTALK, url="http://127.0.0.1:9/robot", is_default=True
    )
    _assets(assets, rng, people, log)
    _workflow(rng, people, timezone.now())
    log(f"# data created in {time.monotonic() - started:.0f} s")


# --- What is due, computed independently -------------------------------------------------------


def expected_keys(now) -> set[str]:
    """The dedup keys the default rules must produce, from plain SQL (not assets/reminders)."""
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate(now)
    keys = set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, warranty_end FROM assets_asset WHERE warranty_end BETWEEN %s AND %s "
            "AND status NOT IN ('disposed', 'lost')",
            [today, today + timedelta(days=30)],
        )
        for pk, end in cursor.fetchall():
            lead = 7 if (end - today).days <= 7 else 30
            keys.add(f"warranty_ending:assets.asset:{pk}:{end.isoformat()}:lead-{lead}")
        cursor.execute(
            # The bench gives every department a head of its own: the copy goes to the head
            # of the asset's (else the holder's) department unless the holder is that head.
            "SELECT a.id, a.due_date, a.holder_id, "
            "h.user_id IS NOT NULL AND h.user_id <> p.user_id "
            "FROM assets_asset a LEFT JOIN assets_person p ON p.id = a.holder_id "
            "LEFT JOIN assets_department d ON d.id = COALESCE(a.department_id, p.department_id) "
            "LEFT JOIN assets_person h ON h.id = d.head_id "
            "WHERE a.status = 'on_loan' AND a.due_date <= %s",
            [today + timedelta(days=3)],
        )
        for pk, due, holder, head_gets_copy in cursor.fetchall():
            overdue_round = ((today - due).days - 1) // 3 + 1
            suffix = "due-3" if due >= today else f"overdue-{overdue_round}"
            loan = f"{due.isoformat()}:p{holder or 0}"
            keys.add(f"loan_due:assets.asset:{pk}:{loan}:{suffix}")
            if due < today and overdue_round > 2 and head_gets_copy:
                keys.add(f"loan_due:assets.asset:{pk}:{loan}:{suffix}:cc")
        cursor.execute(
            "SELECT h.id FROM assets_handover h JOIN assets_person p ON p.id = h.to_person_id "
            "WHERE h.needs_acceptance AND h.accepted_at IS NULL AND h.created_at <= %s "
            "AND p.user_id IS NOT NULL",
            [now - timedelta(days=3)],
        )
        keys |= {f"assignment_unconfirmed:assets.handover:{pk}:after-3d" for (pk,) in cursor}
        cursor.execute(
            "SELECT r.id FROM assets_approvalrequest r JOIN assets_approvalstep s "
            "ON s.request_id = r.id AND s.number = r.current_step "
            "WHERE r.state = 'pending' AND s.decision = 'pending' AND r.requested_at <= %s",
            [now - timedelta(hours=24)],
        )
        keys |= {
            f"approval_pending:assets.approvalrequest:{pk}:step-1:after-24h" for (pk,) in cursor
        }
    return keys


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        cursor.execute("TRUNCATE TABLE notifications_notification")
        cursor.execute("TRUNCATE TABLE notifications_delivery")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def _duplicates() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM notifications_delivery "
            "GROUP BY dedup_key, recipient_id, channel HAVING COUNT(*) > 1) d"
        )
        return cursor.fetchone()[0]


def _keys() -> set[str]:
    from notifications.models import Delivery

    return set(Delivery.objects.values_list("dedup_key", flat=True).distinct())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data if it has N assets")
    parser.add_argument("--database", default="itassets_bench_reminders")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--no-concurrent", action="store_true")
    args = parser.parse_args()
    if "bench" not in args.database:
        parser.error("--database must be a dedicated benchmark database (name containing 'bench')")

    from assets_list import _prepare_environment, _reset_database

    server = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/")
    _prepare_environment(server, args.database)

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from assets.models import Asset
    from notifications import registry, services
    from notifications.defaults import install_rules
    from notifications.models import Delivery, ReminderRule

    print(f"# bench/reminders.py: MariaDB database `{args.database}`, services in-process")
    have = 0
    if args.reuse:
        try:
            have = Asset.objects.count()
        except Exception:  # no tables yet
            have = 0
    if have != args.assets:
        _reset_database(args.database)
        call_command("migrate", verbosity=0, interactive=False)
        seed(assets=args.assets, seed=args.seed)
        with connection.cursor() as cursor:
            for table in ("assets_asset", "assets_handover", "assets_approvalrequest"):
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()
    else:
        call_command("migrate", verbosity=0, interactive=False)
        print(f"# reusing {have:,} assets")
    install_rules(ReminderRule)
    # The digest is counted once a week, not part of "what is due today".
    ReminderRule.objects.filter(kind="weekly_digest").update(enabled=False)
    now = timezone.now()
    print(f"# {Asset.objects.count():,} assets; now = {timezone.localtime(now):%Y-%m-%d %H:%M}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    # What is due today: every rule's evaluator, consumed fully.
    rules = list(ReminderRule.objects.filter(enabled=True))
    occurrences = 0

    def select_all() -> int:
        n = 0
        for rule in rules:
            n += sum(1 for _ in registry.reminder(rule.kind).evaluate(rule, now))
        return n

    select_all()  # warm
    samples = []
    for _ in range(args.iterations):
        started = time.perf_counter()
        occurrences = select_all()
        samples.append((time.perf_counter() - started) * 1000)
    print(
        f"# {occurrences:,} occurrences due; select samples (ms): "
        + " ".join(f"{s:.0f}" for s in samples)
    )
    print(f"reminder_select_ms: {statistics.median(samples):.0f} ms")

    # One scan from empty tables: the deliveries of everything due.
    _truncate()
    started = time.perf_counter()
    result = services.reminder_scan(now=now, dispatch=False)
    run_s = time.perf_counter() - started
    print(
        f"# scan: {result.occurrences:,} occurrences, {result.created:,} deliveries, "
        f"failed rules: {result.failed or '-'}"
    )
    print(f"reminder_run_s: {run_s:.1f} s")

    started = time.perf_counter()
    again = services.reminder_scan(now=now, dispatch=False)
    print(f"reminder_rerun_s: {time.perf_counter() - started:.1f} s")
    print(f"rerun_created: {again.created} count")

    expected = expected_keys(now)
    actual = _keys()
    duplicates = _duplicates()

    if not args.no_concurrent:
        _truncate()
        results = []

        def run():
            try:
                results.append(services.reminder_scan(now=now, dispatch=False))
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"concurrent_run_s: {time.perf_counter() - started:.1f} s")
        created = sum(r.created for r in results)
        total = Delivery.objects.count()
        print(
            f"# two scans at once: created {created:,} in all, {total:,} rows "
            f"(one scan alone: {result.created:,})"
        )
        duplicates += _duplicates() + abs(created - total) + abs(total - result.created)
        actual_concurrent = _keys()
        expected_missing = len(expected - actual_concurrent)
    else:
        expected_missing = 0

    print(f"duplicates: {duplicates} count")
    print(f"missed: {len(expected - actual) + expected_missing} count")
    print(f"# unexpected keys (due per the scan, not per the plain SQL): {len(actual - expected)}")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    _explain(now)
    return 0


def _explain(now) -> None:
    """EXPLAIN of the selects that find what is due (as '#' lines): index only."""
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate(now)
    cases = [
        (
            "warranty",
            "SELECT id, warranty_end FROM assets_asset WHERE warranty_end >= %s "
            "AND warranty_end <= %s ORDER BY warranty_end, id",
            [today, today + timedelta(days=30)],
        ),
        (
            "ended",
            "SELECT id FROM assets_asset WHERE status IN ('disposed', 'lost')",
            [],
        ),
        (
            "loans",
            "SELECT id, due_date FROM assets_asset WHERE status = 'on_loan' AND due_date <= %s "
            "ORDER BY due_date, id",
            [today + timedelta(days=3)],
        ),
        (
            "announced",
            "SELECT DISTINCT dedup_key FROM notifications_delivery WHERE dedup_key IN (%s, %s)",
            ["a", "b"],
        ),
    ]
    with connection.cursor() as cursor:
        for label, sql, params in cases:
            cursor.execute(f"EXPLAIN {sql}", params)
            columns = [c[0] for c in cursor.description]
            row = dict(zip(columns, cursor.fetchone(), strict=True))
            cursor.fetchall()
            print(
                f"# explain {label}: key={row['key']} rows={row['rows']} "
                f"extra={row['Extra'] or '-'}"
            )


if __name__ == "__main__":
    sys.exit(main())
