"""Streamed writes (itassets.importing.writer) on MariaDB: outside a transaction, each
validated chunk is written on a writer thread while the next one is validated, inside ONE
transaction that commits only when the whole file is valid. Chunks of 2 rows here, so a few
rows make several batches."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.utils import translation

from assets.importers import AssetImporter
from assets.models import Asset, AssetEvent, Department, TagSequence
from assets.services import tag_prefix
from assets.tests.factories import AssetFactory
from assets.tests.import_helpers import make_catalog, write_csv, write_xlsx
from itassets.importing.service import import_file

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = ["资产编号", "型号", "序列号", "使用部门", "金额", "内存", "备注"]


@pytest.fixture(autouse=True)
def _english_and_small_chunks(monkeypatch):
    assert connection.vendor == "mysql", "streamed writes are a MySQL/MariaDB path"
    monkeypatch.setattr(AssetImporter, "chunk_size", 2)
    with translation.override("en"):
        yield


@pytest.fixture
def writes(monkeypatch):
    """The batches written, as (thread name, new rows, updated rows)."""
    calls = []
    original = AssetImporter.write_batch

    def spy(self, batch):
        calls.append((threading.current_thread().name, len(batch[0]), len(batch[1])))
        return original(self, batch)

    monkeypatch.setattr(AssetImporter, "write_batch", spy)
    return calls


def _sequence() -> int:
    prefix, _fmt = tag_prefix()
    return (
        TagSequence.objects.filter(prefix=prefix).values_list("last_value", flat=True).first() or 0
    )


def _rows(n: int) -> list[list]:
    return [["", "ThinkPad X1", f"SN{i}", "QA", "¥1,000.50", "8GB", ""] for i in range(1, n + 1)]


def test_chunks_are_written_on_the_writer_thread_and_committed_at_the_end(tmp_path, writes, clerk):
    # given a catalog, an existing asset, and a file of 5 new rows and one update
    catalog = make_catalog()
    old = AssetFactory(
        tag="OLD-1",
        model=catalog["x1"],
        category=catalog["laptop"],
        manufacturer=catalog["lenovo"],
        custom_fields={"memory": "8GB"},
        notes="before",
    )
    path = write_csv(
        tmp_path / "a.csv", [HEADER, *_rows(5), ["OLD-1", "", "", "", "", "", "after"]]
    )
    progress = []

    # when imported outside any transaction
    result = import_file(
        kind="assets", path=path, actor=clerk, progress=lambda *a: progress.append(a)
    )

    # then every batch went through the writer thread, and everything is there
    assert (result.errors, result.created, result.updated, result.written) == ([], 5, 1, True)
    assert {name for name, _c, _u in writes} == {"import-writer"}
    assert sum(c for _n, c, _u in writes) == 5 and sum(u for _n, _c, u in writes) == 1
    new = list(Asset.objects.exclude(pk=old.pk).order_by("serial_number"))
    prefix, fmt = tag_prefix()
    assert [a.tag for a in new] == [prefix + fmt.format(seq=n) for n in range(1, 6)]
    assert [(a.department, a.cost, a.custom_fields, a.created_by) for a in new] == [
        (catalog["qa"], Decimal("1000.50"), {"memory": "8GB"}, clerk)
    ] * 5
    events = AssetEvent.objects.order_by("asset__serial_number")
    assert [e.payload for e in events] == [{"file": "a.csv", "row": n} for n in range(2, 7)]
    old.refresh_from_db()
    assert old.notes == "after"
    assert list(
        old.history.filter(history_change_reason="import").values_list("history_type", flat=True)
    ) == ["~"]
    assert progress[-1] == ("write", 6, 6)
    assert not [t for t in threading.enumerate() if t.name == "import-writer"]


def test_an_error_in_the_last_chunk_rolls_back_the_chunks_already_written(
    tmp_path, writes, settings
):
    # given a file whose last row (a later chunk) has a bad cost
    make_catalog()
    settings.IMPORT_HISTORY_ON_CREATE = True
    before = _sequence()
    rows = _rows(6)
    rows[-1][4] = "abc"
    path = write_csv(tmp_path / "bad.csv", [HEADER, *rows])

    # when imported
    result = import_file(kind="assets", path=path)

    # then earlier chunks had been written, yet nothing stays: no asset, no event, no
    # history, and the reserved tag numbers went back to the sequence
    assert [(e.row, e.column, e.reason) for e in result.errors] == [(7, "金额", "Not a number.")]
    assert writes and not result.written
    assert (Asset.objects.count(), AssetEvent.objects.count()) == (0, 0)
    assert not Asset.history.exists()
    assert _sequence() == before


def test_an_explicit_tag_already_given_to_an_earlier_row_is_honoured(tmp_path, writes):
    # given a row without tag (it gets the next number, written with its chunk) and a later
    # row naming that very number as its own tag
    make_catalog()
    prefix, fmt = tag_prefix()
    first, second = prefix + fmt.format(seq=1), prefix + fmt.format(seq=2)
    rows = [*_rows(2), [first, "ThinkPad X1", "S-EXPLICIT", "QA", "", "8GB", ""]]
    path = write_xlsx(tmp_path / "t.xlsx", [HEADER, *rows])

    # when imported
    result = import_file(kind="assets", path=path)

    # then the explicit tag wins and the earlier row took the next number
    assert (result.errors, result.created) == ([], 3)
    assert len(writes) >= 2
    tags = dict(Asset.objects.values_list("serial_number", "tag"))
    assert tags["S-EXPLICIT"] == first
    assert sorted([tags["SN1"], tags["SN2"]]) == [second, prefix + fmt.format(seq=3)]


def test_a_database_refusal_in_the_writer_is_reported_and_nothing_is_written(tmp_path, monkeypatch):
    # given a writer that the database refuses on its second batch
    make_catalog()
    before = _sequence()
    original = AssetImporter.write_batch
    calls = []

    def refused(self, batch):
        calls.append(batch)
        if len(calls) == 2:
            raise IntegrityError("duplicate entry")
        return original(self, batch)

    monkeypatch.setattr(AssetImporter, "write_batch", refused)
    path = write_csv(tmp_path / "a.csv", [HEADER, *_rows(6)])

    # when imported
    result = import_file(kind="assets", path=path)

    # then the refusal is the file's error and the first batch was rolled back too
    assert [e.reason for e in result.errors] == [
        "The database refused the import (the register changed meanwhile?); nothing was "
        "written. Check the file again."
    ]
    assert not result.written
    assert (Asset.objects.count(), AssetEvent.objects.count()) == (0, 0)
    assert _sequence() == before


def test_references_created_by_one_batch_are_used_by_later_ones(tmp_path, writes):
    # given new departments over several chunks: a parent and child first, a sibling of the
    # child later (its parent already created by an earlier batch)
    catalog = make_catalog()
    rows = _rows(5)
    rows[0][3] = "总部/新中心/一组"
    rows[2][3] = "总部/新中心"
    rows[4][3] = "总部/新中心/二组"
    path = write_csv(tmp_path / "refs.csv", [HEADER, *rows])

    # when imported with --create-missing-refs
    result = import_file(kind="assets", path=path, create_missing_refs=True)

    # then each department was created once, in the right place of the tree
    assert (result.errors, result.created, result.refs_created) == (
        [],
        5,
        {"departments": 3},
    )
    assert len(writes) == 3
    centre = Department.objects.get(name="新中心")
    assert Department.objects.get_parent(centre) == catalog["hq"]
    assert sorted(c.name for c in Department.objects.get_children(centre)) == ["一组", "二组"]
    assert Department.objects.get(pk=centre.pk).numchild == 2
    assert Department.objects.find_problems() == ([], [], [], [], [])
    by_serial = dict(Asset.objects.values_list("serial_number", "department__full_name"))
    assert (by_serial["SN1"], by_serial["SN3"], by_serial["SN5"]) == (
        "总部/新中心/一组",
        "总部/新中心",
        "总部/新中心/二组",
    )


def test_new_rows_are_built_on_the_importing_thread_unless_they_name_new_references(
    tmp_path, monkeypatch
):
    # given a file whose first chunk names a department the import creates
    make_catalog()
    built = []
    original = AssetImporter._prepare_creates

    def spy(self, creates):
        built.append((threading.current_thread().name, len(creates)))
        return original(self, creates)

    monkeypatch.setattr(AssetImporter, "_prepare_creates", spy)
    rows = _rows(5)
    rows[0][3] = "总部/新中心"
    path = write_csv(tmp_path / "a.csv", [HEADER, *rows])

    # when imported with --create-missing-refs
    result = import_file(kind="assets", path=path, create_missing_refs=True)

    # then the statements of the first batch were built by the writer (the department's id
    # comes from its INSERT there); the later ones on the importing thread, the writer only
    # ran them; each import event belongs to its row's asset
    assert (result.errors, result.created) == ([], 5)
    # (the writer may build the first batch after the next one was taken: sorted)
    assert sorted(built) == [("MainThread", 1), ("MainThread", 2), ("import-writer", 2)]
    assert sorted(
        AssetEvent.objects.values_list("asset__serial_number", "payload__row", "to_status")
    ) == [(f"SN{n}", n + 1, "in_stock") for n in range(1, 6)]
    assert Asset.objects.get(serial_number="SN1").department.full_name == "总部/新中心"


def test_an_asset_deleted_before_its_update_is_written_refuses_the_import(
    tmp_path, monkeypatch, clerk
):
    # given two existing assets updated by the file's second chunk, one of which is deleted
    # just before that chunk is written
    catalog = make_catalog()
    for n in (1, 2):
        AssetFactory(
            tag=f"OLD-{n}",
            model=catalog["x1"],
            category=catalog["laptop"],
            manufacturer=catalog["lenovo"],
            notes="before",
        )
    original = AssetImporter.write_batch

    def deleting(self, batch):
        if batch[1]:
            Asset.objects.filter(tag="OLD-2").delete()
        return original(self, batch)

    monkeypatch.setattr(AssetImporter, "write_batch", deleting)
    rows = [*_rows(2), ["OLD-1", "", "", "", "", "", "after"], ["OLD-2", "", "", "", "", "", "x"]]
    path = write_csv(tmp_path / "a.csv", [HEADER, *rows])

    # when imported
    result = import_file(kind="assets", path=path, actor=clerk)

    # then the import is refused and nothing stays (not even the deletion, made inside it)
    assert not result.written and len(result.errors) == 1
    assert sorted(Asset.objects.values_list("tag", "notes")) == [
        ("OLD-1", "before"),
        ("OLD-2", "before"),
    ]
    assert not AssetEvent.objects.exists()
    assert not Asset.history.filter(history_change_reason="import").exists()


def test_streamed_and_end_written_imports_store_the_same(tmp_path, settings, clerk):
    # given a file with updates, new rows, custom fields and a tricky text
    catalog = make_catalog()
    AssetFactory(
        tag="OLD-1",
        model=catalog["x1"],
        category=catalog["laptop"],
        manufacturer=catalog["lenovo"],
        custom_fields={"memory": "8GB"},
    )
    rows = [*_rows(5), ["OLD-1", "", "", "", "¥7", "16GB", "O'Brien \\ 100%"]]
    path = write_csv(tmp_path / "same.csv", [HEADER, *rows])

    def stored():
        return (
            list(
                Asset.objects.order_by("tag").values_list(
                    "tag", "serial_number", "department", "cost", "custom_fields", "notes"
                )
            ),
            list(
                AssetEvent.objects.order_by("asset__tag").values_list(
                    "asset__tag", "transition", "to_status", "payload"
                )
            ),
            list(
                Asset.history.filter(history_change_reason="import")
                .order_by("tag")
                .values_list("tag", "history_type", "cost", "notes", "custom_fields")
            ),
        )

    def reset():
        Asset.history.all().delete()
        AssetEvent.objects.all().delete()
        Asset.objects.exclude(tag="OLD-1").delete()
        Asset.objects.filter(tag="OLD-1").update(cost=None, notes="", custom_fields={})
        TagSequence.objects.all().delete()

    # when imported once written at the end and once streamed
    settings.IMPORT_STREAM_WRITES = False
    assert import_file(kind="assets", path=path, actor=clerk).written
    at_the_end = stored()
    reset()
    settings.IMPORT_STREAM_WRITES = True
    assert import_file(kind="assets", path=path, actor=clerk).written

    # then the database holds the same
    assert stored() == at_the_end
    assert len(at_the_end[0]) == 6 and len(at_the_end[1]) == 5 and len(at_the_end[2]) == 1


def test_tags_go_back_to_the_sequence_only_if_nobody_took_numbers_since(tmp_path):
    # given an importer that reserved two blocks of tags
    make_catalog()
    importer = AssetImporter(file_name="x.csv")
    importer.prepare()
    before = _sequence()
    importer._reserve_tags(3)
    importer._reserve_tags(2)

    # when it gives them back: both blocks return
    importer.release()
    assert _sequence() == before

    # but once someone else took a number after them, they stay a gap
    importer._reserve_tags(3)
    from assets.services import asset_tags_allocate

    asset_tags_allocate(count=1)
    importer.release()
    assert _sequence() == before + 4
