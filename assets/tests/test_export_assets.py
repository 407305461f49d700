"""Exporting the asset list: filters and data scope, formula neutralisation, streaming, large
exports in the background, and the round trip (an export re-imported changes nothing)."""

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.utils import translation
from openpyxl import load_workbook

from assets import exports
from assets.exports import asset_export_write
from assets.lifecycle import Status
from assets.models import Asset, AssetModel, CustomField
from assets.tests.factories import AssetFactory, PersonFactory
from assets.tests.import_helpers import make_catalog
from itassets.importing.service import import_file
from itassets.models import ExportJob


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def catalog(db):
    catalog = make_catalog()
    CustomField.objects.create(
        category=catalog["laptop"], key="bought", label="购置日", field_type="date", position=3
    )
    CustomField.objects.create(
        category=catalog["laptop"], key="touch", label="触屏", field_type="boolean", position=4
    )
    CustomField.objects.create(
        category=catalog["laptop"], key="weight", label="重量", field_type="decimal", position=5
    )
    return catalog


def _asset(catalog, **fields):
    defaults = {
        "model": catalog["x1"],
        "category": catalog["laptop"],
        "manufacturer": catalog["lenovo"],
        "custom_fields": {"memory": "8GB", "touch": False},
    }
    return AssetFactory(**{**defaults, **fields})


def _register(catalog):
    """A register with every kind of value, including formula-like text."""
    twin = PersonFactory(employee_no="E777", name="张三")  # same name as E001
    in_use = _asset(
        catalog,
        tag="IT-1",
        name='=HYPERLINK("http://x")',
        serial_number="-SN1",
        status=Status.IN_USE,
        holder=twin,
        department=catalog["qa"],
        location=catalog["room"],
        supplier=catalog["supplier"],
        order_number="+PO1",
        invoice_number="@INV",
        purchase_date=date(2024, 5, 1),
        cost=Decimal("12999.50"),
        warranty_end=date(2027, 5, 1),
        useful_life_months=48,
        residual_rate=Decimal("5.00"),
        notes="\tTAB 备注",
        custom_fields={
            "memory": "16GB",
            "cpu": "i7",
            "ram_slots": 2,
            "bought": "2024-05-02",
            "touch": True,
            "weight": "1.25",
        },
    )
    disposed = _asset(catalog, tag="IT-2", status=Status.DISPOSED, serial_number=None)
    plain = _asset(catalog, tag="IT-3", serial_number="SN3", location=catalog["room"])
    return in_use, disposed, plain


def test_formula_like_text_is_neutralised_and_read_back_as_text(catalog, client_as):
    # given an asset whose text fields start with = - + @ and tab
    _register(catalog)
    client = client_as("clerk")
    client.cookies["django_language"] = "en"

    # when the list is exported as xlsx and as CSV
    xlsx = client.get("/assets/export.xlsx", {"q": "IT-1"})
    csv_response = client.get("/assets/export.csv", {"q": "IT-1"})

    # then every such cell is a text cell starting with an apostrophe: never a formula
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, sheet[2], strict=False))
    for column, text in [
        ("Name", '\'=HYPERLINK("http://x")'),
        ("Serial number", "'-SN1"),
        ("Purchase order number", "'+PO1"),
        ("Invoice number", "'@INV"),
        ("Notes", "'\tTAB 备注"),
    ]:
        assert (row[column].value, row[column].data_type) == (text, "s")
    assert isinstance(csv_response, StreamingHttpResponse)
    body = b"".join(csv_response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    records = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    values = dict(zip(records[0], records[1], strict=False))
    assert values["Name"] == '\'=HYPERLINK("http://x")'
    assert values["Notes"] == "'\tTAB 备注"
    assert values["Cost (CNY)"] == "12999.50"


def test_the_export_follows_the_list_filters_and_the_data_scope(catalog, client_as, make_user):
    # given assets in stock and in use, one of them held by an employee
    _register(catalog)
    employee = make_user("employee")
    person = PersonFactory(user=employee)
    mine = _asset(catalog, tag="IT-MINE", holder=person, status=Status.IN_USE)

    # when a clerk exports "in use" only, and the employee exports everything
    clerk_csv = client_as("clerk").get("/assets/export.csv", {"status": "in_use"})
    tags = [
        r[0]
        for r in csv.reader(io.StringIO(b"".join(clerk_csv.streaming_content).decode("utf-8-sig")))
    ]
    employee_csv = client_as(user=employee).get("/assets/export.csv")
    own = [
        r[0]
        for r in csv.reader(
            io.StringIO(b"".join(employee_csv.streaming_content).decode("utf-8-sig"))
        )
    ]

    # then the clerk gets the in-use assets, the employee only their own
    assert sorted(tags[1:]) == ["IT-1", "IT-MINE"]
    assert own[1:] == [mine.tag]


def test_people_without_a_role_cannot_export(catalog, client_as):
    assert client_as(None).get("/assets/export.xlsx").status_code == 403
    assert client_as("clerk").get("/assets/export.pdf").status_code == 404


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_imported_again_changes_nothing(catalog, clerk, tmp_path, fmt):
    # given a register with every kind of value, and two models of the same name
    _register(catalog)
    AssetModel.objects.create(
        category=catalog["laptop"],
        manufacturer=catalog["lenovo"],
        name="ThinkPad X1",
        model_number="21KD",
    )
    path = tmp_path / f"export.{fmt}"
    with open(path, "wb") as out:
        count = asset_export_write(user=clerk, filters={}, fmt=fmt, out=out)
    before = list(Asset.objects.order_by("id").values())

    # when the export is imported unchanged
    result = import_file(kind="assets", path=path, actor=clerk)

    # then no row is new or updated, and nothing in the register changed
    assert result.errors == []
    assert (count, result.created, result.updated, result.unchanged) == (3, 0, 0, 3)
    assert list(Asset.objects.order_by("id").values()) == before


def test_large_exports_run_in_the_background_with_a_download_link(
    catalog, client_as, settings, django_capture_on_commit_callbacks
):
    # given more assets than may be exported within a request
    settings.EXPORT_SYNC_MAX_ROWS = 2
    _register(catalog)
    client = client_as("clerk")

    # when the clerk asks for the export
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/assets/export.xlsx", {"sort": "tag"})

    # then a job was written in the background and its page offers the download
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response.url == f"/exports/{job.pk}/"
    assert (job.state, job.rows, job.created_by) == ("done", 3, client.user)
    page = client.get(response.url)
    assert b'data-testid="export-download"' in page.content
    download = client.get(f"/exports/{job.pk}/download/")
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["IT-1", "IT-2", "IT-3"]
    # and nobody else can see it
    assert client_as("clerk").get(f"/exports/{job.pk}/download/").status_code == 404


def _plain_values(rows):
    """Chunk rows with ``custom_fields`` as a dict, whether read as JSON text or by the ORM."""
    return [(*r[:-1], json.loads(r[-1]) if isinstance(r[-1], str) else r[-1]) for r in rows]


def test_the_pipelined_reader_reads_what_the_orm_reads(catalog, monkeypatch):
    # given a register with every kind of value, ten assets with consecutive ids (read as
    # one range) and one deleted asset, in chunks of 7
    in_use, disposed, plain = _register(catalog)
    run = [_asset(catalog, tag=f"IT-R{n}") for n in range(10)]
    gone = _asset(catalog, tag="IT-GONE")
    gone_id = gone.pk
    gone.delete()
    ids = [plain.pk, *[a.pk for a in reversed(run)], gone_id, in_use.pk, disposed.pk]
    monkeypatch.setattr(exports, "CHUNK", 7)

    # when read by the pipelined MySQL reader and by the ORM
    fast = [r for c in exports._asset_chunks(ids, custom=True, pipelined=True) for r in c]
    orm = [r for c in exports._asset_chunks(ids, custom=True, pipelined=False) for r in c]

    # then both give the same values of the same types, in the order of the ids
    assert [r[0] for r in fast] == [pk for pk in ids if pk != gone_id]
    assert _plain_values(fast) == _plain_values(orm)
    assert [[type(v) for v in r] for r in _plain_values(fast)] == [
        [type(v) for v in r] for r in _plain_values(orm)
    ]
    row = next(r for r in fast if r[0] == in_use.pk)
    assert row[8:10] == ("张三", "E777")  # the holder, joined
    assert (row[15], row[16], row[17]) == (date(2024, 5, 1), Decimal("12999.50"), date(2027, 5, 1))


def test_consecutive_ids_are_read_as_ranges():
    assert exports._id_ranges([5, 3, 4, 1, 2, 6, 7, 8, 20, 22, 21, 100]) == (
        "a.id BETWEEN 1 AND 8 OR a.id IN (20,21,22,100)"
    )
    assert exports._id_ranges([9]) == "a.id IN (9)"
    assert exports._id_ranges(list(range(40, 0, -1))) == "a.id BETWEEN 1 AND 40"


def test_an_export_stopped_half_way_leaves_the_connection_usable(catalog, clerk, monkeypatch):
    # given an export read one asset per query (the next query is in flight meanwhile)
    _register(catalog)
    monkeypatch.setattr(exports, "CHUNK", 1)
    header, rows, count = exports.asset_export_rows(user=clerk, filters={})
    stream = exports.iter_csv(header, rows, rows_per_chunk=1)

    # when the download stops after the first asset
    next(stream)
    stream.close()

    # then the connection answers the next query (the query in flight was read and dropped)
    assert count == 3
    assert Asset.objects.count() == 3


def test_custom_cells_follow_each_assets_category(catalog, clerk):
    # given a laptop and a PC whose stored custom values are the same text, and a second
    # laptop with that text again
    values = {"memory": "16GB", "ram_slots": 2, "touch": True}
    _asset(catalog, tag="IT-L1", custom_fields=values)
    _asset(catalog, tag="IT-L2", custom_fields=values)
    _asset(catalog, tag="IT-P1", category=catalog["pc"], custom_fields=values)

    # when exported
    header, rows, _count = exports.asset_export_rows(user=clerk, filters={"sort": "tag"})
    cells = {r[0]: dict(zip(header, r, strict=True)) for r in rows}

    # then each asset shows the fields of its own category only
    for tag in ("IT-L1", "IT-L2"):
        assert (cells[tag]["内存"], cells[tag]["内存插槽"], cells[tag]["触屏"]) == (
            "16GB",
            2,
            "是",
        )
    assert (cells["IT-P1"]["内存"], cells["IT-P1"]["内存插槽"], cells["IT-P1"]["触屏"]) == (
        None,
        2,
        None,
    )
