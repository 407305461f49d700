#!/usr/bin/env python
"""Benchmark of the asset import and export at scale.

    python bench/imports.py [--rows 100000] [--existing 20000] [--database itassets_bench_imports]

Creates a dedicated MariaDB database (server from BENCH_DATABASE_URL, default
``mysql://root@127.0.0.1:3306/``), migrates it, seeds the demo organisation (3,000 people),
a catalog with 3 custom fields and ``--existing`` assets, then:

1. generates two asset files of ``--rows`` rows with Chinese headers and 20 columns (3 of
   them custom fields), 10 % of the rows updating existing tags and the rest new (empty tag):
   a UTF-8 CSV (with BOM, mixed date formats, ``¥12,999.00`` amounts) and an .xlsx;
2. ``dry_run_rows_per_s``: validates the CSV, writing nothing;
3. ``import_csv_rows_per_s`` / ``import_xlsx_rows_per_s``: imports each file for real (the
   service the command and the web page use: validation, tag block, bulk inserts, bulk
   updates, history rows, import events; one transaction);
4. ``import_peak_mb``: the largest peak RSS growth of the importing process during one of
   those runs (VmHWM after resetting it through /proc/self/clear_refs, minus VmRSS before the
   run; every figure is measured in a fresh child process, so earlier runs do not hide it);
5. ``load_data_rows_per_s``: MariaDB ``LOAD DATA LOCAL INFILE`` of the CSV import's rows
   (as stored, with ids resolved) into an empty copy of the asset table (same indexes):
   the floor no importer can beat (needs ``local_infile``; set with SET GLOBAL as root and
   put back afterwards);
6. ``export_200k_s`` / ``export_peak_mb``: the asset list export as .xlsx of every asset
   (``--existing`` + the two imports' new rows: 200,000 with the defaults), through the code
   the export view and task use; ``export_csv_200k_s`` the same as CSV.

Prints one figure per line as ``name: value unit``; lines starting with ``#`` are comments.
The machine is shared: run it twice and compare.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HEADERS = [
    "资产编号",
    "资产名称",
    "分类",
    "品牌",
    "型号",
    "序列号",
    "状态",
    "使用人工号",
    "使用部门",
    "存放地点",
    "供应商",
    "采购单号",
    "发票号",
    "购置日期",
    "金额",
    "保修截止",
    "备注",
    "资产来源",
    "内存(GB)",
    "质保等级",
]
SOURCES = ["采购", "调拨", "捐赠"]


# --- memory ---------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))


class PeakRss:
    """Peak RSS growth (MB) of this process over a block: VmHWM is reset first."""

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.base = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc):
        self.mb = max(0, _status_kb("VmHWM") - self.base) / 1024


# --- data -----------------------------------------------------------------------------------


def _seed_custom_fields() -> None:
    from assets.models import Category, CustomField

    for root in Category.objects.filter(depth=1):
        CustomField.objects.get_or_create(
            category=root,
            key="source",
            defaults={"label": "资产来源", "field_type": "choice", "choices": SOURCES},
        )
        CustomField.objects.get_or_create(
            category=root,
            key="memory_gb",
            defaults={"label": "内存(GB)", "field_type": "integer", "position": 1},
        )
        CustomField.objects.get_or_create(
            category=root,
            key="grade",
            defaults={"label": "质保等级", "field_type": "text", "position": 2},
        )


def _date_text(d: date, n: int) -> str:
    match n % 4:
        case 0:
            return d.isoformat()
        case 1:
            return f"{d.year}/{d.month}/{d.day}"
        case 2:
            return f"{d.year}年{d.month}月{d.day}日"
        case _:
            return f"{d:%Y%m%d}"


def generate_rows(*, rows: int, variant: str, seed: int, xlsx: bool) -> list[list]:
    """``rows`` import rows: 10 % update existing tags, the rest are new assets."""
    from assets.lifecycle import Status
    from assets.models import Asset, AssetModel, Department, Location, Person, Supplier

    rng = random.Random(f"{seed}-{variant}")
    models = list(AssetModel.objects.select_related("manufacturer", "category").order_by("id"))
    departments = list(Department.objects.values_list("id", "full_name"))
    rooms = list(
        Location.objects.filter(is_warehouse=False, kind=Location.Kind.ROOM).values_list(
            "id", "full_name"
        )
    )
    stores = list(Location.objects.filter(is_warehouse=True).values_list("full_name", flat=True))
    stores = stores or [name for _pk, name in rooms]
    people = list(Person.objects.values_list("id", "employee_no", "department_id"))
    dept_names = dict(departments)
    people_by_id = {pk: (no, dept) for pk, no, dept in people}
    suppliers = list(Supplier.objects.values_list("name", flat=True))
    labels = {s.value: str(s.label) for s in Status}
    updates = rows // 10
    existing = list(
        Asset.objects.order_by("?").values_list(
            "tag", "name", "status", "holder_id", "department_id", "location_id", "model_id"
        )[:updates]
    )
    location_names = dict(Location.objects.values_list("id", "full_name"))
    model_by_id = {m.id: m for m in models}
    out = []
    today = date.today()
    for i, (tag, name, status, holder, dept, loc, model_id) in enumerate(existing):
        m = model_by_id[model_id]
        out.append(
            [
                tag,
                name,
                m.category.full_name,
                m.manufacturer.name,
                m.name,
                "",
                labels[status],
                people_by_id[holder][0] if holder else "",
                dept_names.get(dept, ""),
                location_names.get(loc, ""),
                "",
                "",
                "",
                "",
                "",
                "",
                f"盘点{variant}更新 {i}",
                rng.choice(SOURCES),
                rng.choice([8, 16, 32]),
                f"等级{variant}",
            ]
        )
    for i in range(rows - len(existing)):
        m = rng.choice(models)
        purchased = today - timedelta(days=rng.randrange(0, 5 * 365))
        in_use = rng.random() < 0.6
        if in_use:
            _pk, number, dept = rng.choice(people)
            status, holder, department = Status.IN_USE, number, dept_names.get(dept, "")
            location = rng.choice(rooms)[1]
        else:
            status, holder, department = Status.IN_STOCK, "", ""
            location = rng.choice(stores)
        cost = rng.randrange(100_000, 2_000_000) / 100
        out.append(
            [
                "",
                f"{m.manufacturer.name} {m.name}",
                m.category.full_name,
                m.manufacturer.name,
                m.name,
                f"{variant}{seed % 100:02d}SN{i:08d}",
                labels[status],
                holder,
                department,
                location,
                rng.choice(suppliers),
                f"PO{purchased:%Y%m}{i % 1000:04d}",
                f"FP{i:09d}",
                purchased if xlsx and i % 2 else _date_text(purchased, i),
                cost if xlsx else f"¥{cost:,.2f}",
                purchased.replace(year=purchased.year + 3)
                if purchased.month != 2 or purchased.day != 29
                else purchased + timedelta(days=3 * 365),
                "",
                rng.choice(SOURCES),
                rng.choice([8, 16, 32, 64]),
                rng.choice(["A", "B", "C"]),
            ]
        )
    rng.shuffle(out)
    return out


def write_csv(path: Path, rows: list[list]) -> None:
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["资产清单（基准测试）"])
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow(
                [v.isoformat() if isinstance(v, date) else ("" if v is None else v) for v in row]
            )


def write_xlsx(path: Path, rows: list[list]) -> None:
    from itassets.xlsx import STYLE_BOLD, XlsxWriter

    # Shared strings, as Excel and WPS save a workbook.
    with open(path, "wb") as f, XlsxWriter(f, shared_strings=True) as book:
        sheet = book.sheet("资产")
        sheet.append(["资产清单（基准测试）"])
        sheet.append(HEADERS, styles=[STYLE_BOLD] * len(HEADERS))
        for row in rows:
            sheet.append(row)


# --- measurements ---------------------------------------------------------------------------


def _measure(operation: str, path: str) -> None:
    """Run one measured operation in this (fresh) process; called with --measure."""
    import json

    from django.contrib.auth import get_user_model

    from assets.exports import asset_export_write
    from itassets.importing.service import import_file

    user = get_user_model().objects.get(username="bench-clerk")
    # Load the modules every run needs before counting (they are not the operation's memory).
    import openpyxl.reader.excel  # noqa: F401

    import assets.importers  # noqa: F401

    with PeakRss() as peak:
        started, cpu = time.perf_counter(), time.process_time()
        if operation.startswith("export_"):
            fmt = operation.removeprefix("export_")
            with open(path, "wb") as out:
                rows = asset_export_write(user=user, filters={}, fmt=fmt, out=out)
            errors, extra = [], {"size": os.path.getsize(path)}
        else:
            result = import_file(
                kind="assets", path=path, dry_run=operation == "dry_run", actor=user
            )
            rows = result.rows
            errors = [f"row {e.row} {e.column} {e.value!r}: {e.reason}" for e in result.errors[:10]]
            extra = {"created": result.created, "updated": result.updated}
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "cpu": cpu,
                "peak_mb": peak.mb,
                "errors": errors,
                **extra,
            }
        )
    )


def _child(operation: str, path: Path, database: str) -> dict:
    """Measure ``operation`` in a child process: a clean peak-RSS baseline for each figure."""
    import json
    import subprocess

    command = [
        sys.executable,
        __file__,
        "--measure",
        operation,
        "--path",
        str(path),
        "--database",
        database,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{operation} failed:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(lines[-1])
    if figures["errors"]:
        for error in figures["errors"]:
            print(f"# error: {error}")
        raise SystemExit(f"{operation}: the file has errors")
    label = operation.replace("_", " ")
    print(
        f"# {label}: {figures['seconds']:.1f} s wall, {figures['cpu']:.1f} s CPU in the "
        f"importing process ({figures['rows'] / figures['cpu']:,.0f} rows per CPU second), "
        f"peak RSS growth {figures['peak_mb']:.0f} MB"
    )
    return figures


def _load_data(server_url: str, database: str, first_id: int, last_id: int) -> float:
    """LOAD DATA LOCAL INFILE of the stored rows id in [first_id, last_id] into a copy."""
    from urllib.parse import urlsplit

    import MySQLdb
    from django.db import connection

    from assets.models import Asset

    columns = [f.column for f in Asset._meta.concrete_fields if f.column != "id"]
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as f:
        tsv = f.name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM assets_asset "
                "WHERE id BETWEEN %s AND %s",
                [first_id, last_id],
            )
            while batch := cursor.fetchmany(5000):
                for row in batch:
                    f.write(
                        "\t".join(
                            "\\N"
                            if v is None
                            else str(v)
                            .replace("\\", "\\\\")
                            .replace("\t", "\\t")
                            .replace("\n", "\\n")
                            for v in row
                        )
                        + "\n"
                    )
    rows = last_id - first_id + 1
    parts = urlsplit(server_url)
    conn = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
        db=database,
        charset="utf8mb4",
        local_infile=1,
    )
    cursor = conn.cursor()
    cursor.execute("SELECT @@GLOBAL.local_infile")
    previous = cursor.fetchone()[0]
    try:
        if not previous:
            cursor.execute("SET GLOBAL local_infile = 1")
        cursor.execute("DROP TABLE IF EXISTS bench_asset_copy")
        cursor.execute("CREATE TABLE bench_asset_copy LIKE assets_asset")
        started = time.perf_counter()
        cursor.execute(
            f"LOAD DATA LOCAL INFILE %s INTO TABLE bench_asset_copy "
            f"CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' "
            f"({', '.join(f'`{c}`' for c in columns)})",
            [tsv],
        )
        conn.commit()
        seconds = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*) FROM bench_asset_copy")
        loaded = cursor.fetchone()[0]
        if loaded != rows:
            print(f"# LOAD DATA loaded {loaded} of {rows} rows")
        cursor.execute("DROP TABLE bench_asset_copy")
    finally:
        if not previous:
            cursor.execute("SET GLOBAL local_infile = 0")
        conn.close()
        os.unlink(tsv)
    return rows / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=20_000)
    parser.add_argument("--database", default="itassets_bench_imports")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-files", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "bench" not in args.database:
        parser.error("--database must be a dedicated benchmark database (name containing 'bench')")

    from assets_list import _prepare_environment, _reset_database

    server = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/")
    _prepare_environment(server, args.database)
    os.environ["IMPORT_MAX_ROWS"] = str(max(args.rows, 200_000))

    import django

    django.setup()
    if args.measure:
        _measure(args.measure, args.path)
        return 0

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from assets.models import Asset
    from itassets.roles import ROLES

    print("# bench/imports.py: import_file (the service behind manage.py import_assets and")
    print(f"# /imports/) and the asset export on MariaDB database `{args.database}`, DEBUG off")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.monotonic()
    _reset_database(args.database)
    call_command("migrate", verbosity=0, interactive=False)
    import _data

    _data.seed(assets=args.existing, seed=args.seed, log=lambda msg: None)
    _seed_custom_fields()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE assets_asset")
        cursor.fetchall()
    print(f"# seeded {Asset.objects.count():,} assets in {time.monotonic() - started:.1f} s")

    work = Path(tempfile.mkdtemp(prefix="itassets-bench-imports-"))
    csv_path, xlsx_path = work / "assets.csv", work / "assets.xlsx"
    started = time.monotonic()
    write_csv(csv_path, generate_rows(rows=args.rows, variant="C", seed=args.seed, xlsx=False))
    write_xlsx(xlsx_path, generate_rows(rows=args.rows, variant="X", seed=args.seed, xlsx=True))
    print(
        f"# files: {csv_path.stat().st_size / 1e6:.1f} MB CSV, "
        f"{xlsx_path.stat().st_size / 1e6:.1f} MB xlsx, {args.rows:,} rows x {len(HEADERS)} "
        f"columns each ({time.monotonic() - started:.1f} s to generate)"
    )

    user_model = get_user_model()
    clerk, _created = user_model.objects.get_or_create(username="bench-clerk")
    clerk.groups.add(Group.objects.get(name=ROLES["clerk"].group))
    print("# each figure is measured in a fresh child process (clean peak-RSS baseline)")

    dry = _child("dry_run", csv_path, args.database)
    print(f"dry_run_rows_per_s: {dry['rows'] / dry['seconds']:,.0f} rows/s")

    first_id = (Asset.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    csv_run = _child("import", csv_path, args.database)
    last_id = Asset.objects.order_by("-id").values_list("id", flat=True).first()
    print(f"# CSV import: {csv_run['created']:,} created, {csv_run['updated']:,} updated")
    print(f"import_csv_rows_per_s: {csv_run['rows'] / csv_run['seconds']:,.0f} rows/s")

    xlsx_run = _child("import", xlsx_path, args.database)
    print(f"# xlsx import: {xlsx_run['created']:,} created, {xlsx_run['updated']:,} updated")
    print(f"import_xlsx_rows_per_s: {xlsx_run['rows'] / xlsx_run['seconds']:,.0f} rows/s")
    peak = max(dry["peak_mb"], csv_run["peak_mb"], xlsx_run["peak_mb"])
    print(f"import_peak_mb: {peak:.0f} MB (peak RSS growth of the importing process)")

    rate = _load_data(server, args.database, first_id, last_id)
    print(f"# LOAD DATA LOCAL INFILE of the CSV import's {last_id - first_id + 1:,} new rows")
    print(f"load_data_rows_per_s: {rate:,.0f} rows/s")

    export = _child("export_xlsx", work / "export.xlsx", args.database)
    print(f"# export: {export['rows']:,} assets, xlsx {export['size'] / 1e6:.1f} MB")
    print(f"export_200k_s: {export['seconds']:.1f} s")
    print(f"export_peak_mb: {export['peak_mb']:.0f} MB (peak RSS growth of the exporting process)")
    export_csv = _child("export_csv", work / "export.csv", args.database)
    print(f"export_csv_200k_s: {export_csv['seconds']:.1f} s")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.keep_files:
        print(f"# files kept in {work}")
    else:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
