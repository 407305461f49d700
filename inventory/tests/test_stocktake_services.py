"""Asset stocktakes: create (validation, permissions), start (the frozen list), scan (every
result, idempotency, bad input that records nothing), confirm a holder, close."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets.tests.factories import (
    AssetFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
)
from inventory.models import Stocktake, StocktakeExpected, StocktakeScan
from inventory.services import stocktakes as services
from inventory.services.stocktakes import ScanRefused

Line = StocktakeExpected.Result
Scan = StocktakeScan.Result


@pytest.fixture
def site(db):
    """园区 › 楼A › 101, 102; 楼B (outside the scope). Assets in 101 and 102, one in 楼B."""
    campus = LocationFactory(name="园区", kind="campus")
    building = LocationFactory(parent=campus, name="楼A", kind="building")
    room1 = LocationFactory(parent=building, name="101")
    room2 = LocationFactory(parent=building, name="102")
    other = LocationFactory(parent=campus, name="楼B", kind="building")
    alice, bob = PersonFactory(name="Alice"), PersonFactory(name="Bob")
    a1 = AssetFactory(tag="A-1", location=room1, holder=alice, assigned=True)
    a2 = AssetFactory(tag="A-2", location=room1, cost=Decimal("100.00"))
    a3 = AssetFactory(tag="A-3", location=room2)
    outside = AssetFactory(tag="B-1", location=other)
    return {
        "campus": campus,
        "building": building,
        "room1": room1,
        "room2": room2,
        "other": other,
        "alice": alice,
        "bob": bob,
        "a1": a1,
        "a2": a2,
        "a3": a3,
        "outside": outside,
    }


@pytest.fixture
def clerk_user(make_user):
    return make_user("clerk")


@pytest.fixture
def counter(make_user):
    return make_user("keeper")


@pytest.fixture
def counting(site, clerk_user, counter):
    """A counting stocktake of 楼A (three assets), counted by ``counter``."""
    stocktake = services.stocktake_create(
        actor=clerk_user, name="2026 年度盘点", locations=[site["building"]], counters=[counter]
    )
    return services.stocktake_start(actor=clerk_user, stocktake=stocktake)


def scan(stocktake, user, code, location, **kw):
    return services.stocktake_scan(
        actor=user,
        stocktake_id=stocktake.pk,
        scan_id=kw.pop("scan_id", uuid.uuid4()),
        code=code,
        location_id=location.pk,
        **kw,
    )


def lines(stocktake):
    return dict(StocktakeExpected.objects.filter(stocktake=stocktake).values_list("tag", "result"))


# --- create -----------------------------------------------------------------------------------


def test_create_makes_a_draft_with_scope_and_counters(site, clerk_user, counter):
    stocktake = services.stocktake_create(
        actor=clerk_user,
        name=" 盘点 ",
        locations=[site["building"]],
        counters=[{"user": counter, "location": site["room1"]}],
        deadline=timezone.localdate() + timedelta(days=7),
    )
    assert stocktake.status == Stocktake.Status.DRAFT
    assert stocktake.name == "盘点"
    assert list(stocktake.locations.all()) == [site["building"]]
    assert list(stocktake.counters.values_list("user", "location")) == [
        (counter.pk, site["room1"].pk)
    ]
    assert not StocktakeExpected.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"deadline": timezone.localdate() - timedelta(days=1)}, "deadline"),
        ({"counters": []}, "counters"),
        ({"kind": "furniture"}, "kind"),
        ({"locations": [999999]}, "locations"),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(
    site, clerk_user, counter, english, kwargs, field
):
    data = {"name": "盘点", "counters": [counter], **kwargs}
    with pytest.raises((ValidationError, PermissionDenied)) as exc:
        services.stocktake_create(actor=clerk_user, **data)
    if isinstance(exc.value, ValidationError):
        assert field in exc.value.message_dict
    assert not Stocktake.objects.exists()


def test_create_refuses_counters_without_the_count_permission(site, clerk_user, make_user, english):
    employee = make_user("employee", username="emp")
    with pytest.raises(ValidationError) as exc:
        services.stocktake_create(actor=clerk_user, name="盘点", counters=[employee])
    assert exc.value.message_dict["counters"] == ["These users may not count stocktakes: emp."]
    assert not Stocktake.objects.exists()


@pytest.mark.parametrize(
    ("role", "kind"),
    [("keeper", "asset"), ("employee", "asset"), ("auditor", "asset"), ("clerk", "consumable")],
)
def test_only_managers_of_the_kind_create(make_user, counter, role, kind):
    with pytest.raises(PermissionDenied):
        services.stocktake_create(actor=make_user(role), name="盘点", kind=kind, counters=[counter])
    assert not Stocktake.objects.exists()


# --- start ------------------------------------------------------------------------------------


def test_start_freezes_the_assets_in_scope_with_their_placement(counting, site):
    assert counting.status == Stocktake.Status.COUNTING
    assert counting.expected_count == 3
    line = StocktakeExpected.objects.get(stocktake=counting, asset=site["a1"])
    assert (line.tag, line.expected_location, line.expected_holder, line.expected_status) == (
        "A-1",
        site["room1"],
        site["alice"],
        "in_use",
    )
    assert line.cost == Decimal("5999.00")
    assert lines(counting) == {"A-1": "pending", "A-2": "pending", "A-3": "pending"}


def test_later_moves_do_not_change_the_frozen_list(counting, site):
    AssetFactory(tag="A-NEW", location=site["room1"])
    StocktakeExpected.objects.filter(stocktake=counting)  # list unchanged:
    assert set(lines(counting)) == {"A-1", "A-2", "A-3"}


def test_scope_dimensions_combine_and_include_children(site, clerk_user, counter):
    it = DepartmentFactory(name="IT")
    dev = DepartmentFactory(parent=it, name="研发")
    laptops = CategoryFactory(name="笔记本")
    AssetFactory(tag="D-1", location=site["room2"], department=dev, model__category=laptops)
    AssetFactory(tag="D-2", location=site["other"], department=dev, model__category=laptops)
    AssetFactory(tag="D-3", location=site["room2"], department=it)  # other category
    AssetFactory(
        tag="D-4", location=site["room2"], department=dev, model__category=laptops, disposed=True
    )
    AssetFactory(
        tag="D-5", location=site["room2"], department=dev, model__category=laptops, in_repair=True
    )
    stocktake = services.stocktake_create(
        actor=clerk_user,
        name="研发笔记本",
        locations=[site["building"]],
        departments=[it],
        categories=[laptops],
        counters=[counter],
    )
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    assert set(lines(stocktake)) == {"D-1"}


def test_no_scope_means_every_asset_held(site, clerk_user, counter):
    stocktake = services.stocktake_create(actor=clerk_user, name="全部", counters=[counter])
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    assert set(lines(stocktake)) == {"A-1", "A-2", "A-3", "B-1"}


def test_start_twice_is_refused(counting, clerk_user, english):
    with pytest.raises(ValidationError, match="cannot be started"):
        services.stocktake_start(actor=clerk_user, stocktake=counting)
    assert StocktakeExpected.objects.filter(stocktake=counting).count() == 3


# --- scan results -----------------------------------------------------------------------------


def test_scan_in_place_is_found(counting, site, counter):
    outcome = scan(counting, counter, "A-2", site["room1"])
    assert (outcome.result, outcome.tag, outcome.replay) == ("found", "A-2", False)
    line = StocktakeExpected.objects.get(stocktake=counting, tag="A-2")
    assert (line.result, line.method, line.found_location, line.found_by) == (
        "found",
        "scan",
        site["room1"],
        counter,
    )
    assert StocktakeScan.objects.get().result == "found"


def test_scan_at_the_parent_location_counts_as_in_place(counting, site, counter):
    assert scan(counting, counter, "A-3", site["building"]).result == "found"


def test_scan_elsewhere_is_a_location_mismatch(counting, site, counter, english):
    outcome = scan(counting, counter, "A-3", site["room1"])
    assert outcome.result == "location_mismatch"
    assert outcome.message == f"Registered at {site['room2'].full_name}."
    assert StocktakeExpected.objects.get(tag="A-3").found_location == site["room1"]


def test_scan_with_another_holder_is_a_holder_mismatch(counting, site, counter):
    outcome = scan(counting, counter, "A-1", site["room1"], holder=site["bob"].employee_no)
    assert outcome.result == "holder_mismatch"
    assert StocktakeExpected.objects.get(tag="A-1").observed_holder == site["bob"]


def test_second_scan_is_a_duplicate_and_counts_once(counting, site, counter):
    scan(counting, counter, "A-2", site["room1"])
    assert scan(counting, counter, "A-2", site["room2"]).result == "duplicate"
    line = StocktakeExpected.objects.get(tag="A-2")
    assert (line.result, line.found_location) == ("found", site["room1"])
    assert list(StocktakeScan.objects.order_by("id").values_list("result", flat=True)) == [
        "found",
        "duplicate",
    ]


def test_known_asset_off_the_list_is_unexpected_once(counting, site, counter):
    assert scan(counting, counter, "B-1", site["room1"]).result == "unexpected"
    assert scan(counting, counter, "B-1", site["room1"]).result == "duplicate"
    line = StocktakeExpected.objects.get(stocktake=counting, tag="B-1")
    assert (line.result, line.found_location, line.expected_location) == (
        "unexpected",
        site["room1"],
        site["other"],
    )


def test_unknown_code_is_recorded_with_its_note(counting, site, counter):
    outcome = scan(counting, counter, "NO-SUCH-TAG", site["room1"], note="白色显示器")
    assert outcome.result == "unknown"
    assert scan(counting, counter, "NO-SUCH-TAG", site["room1"]).result == "duplicate"
    first = StocktakeScan.objects.order_by("id").first()
    assert (first.raw_code, first.note, first.asset) == ("NO-SUCH-TAG", "白色显示器", None)
    assert StocktakeExpected.objects.filter(stocktake=counting).count() == 3


def test_a_label_url_is_read_as_its_tag(counting, site, counter):
    outcome = scan(counting, counter, "https://it.example.cn/assets/A-2/\r\n", site["room1"])
    assert (outcome.result, outcome.tag) == ("found", "A-2")


def test_the_same_scan_sent_twice_counts_once(counting, site, counter):
    scan_id = uuid.uuid4()
    first = scan(counting, counter, "A-2", site["room1"], scan_id=scan_id)
    again = scan(counting, counter, "A-2", site["room1"], scan_id=scan_id)
    assert (first.result, first.replay) == ("found", False)
    assert (again.result, again.replay, again.tag) == ("found", True, "A-2")
    assert StocktakeScan.objects.count() == 1


def test_a_retried_unexpected_scan_adds_one_line(counting, site, counter):
    scan_id = uuid.uuid4()
    scan(counting, counter, "B-1", site["room1"], scan_id=scan_id)
    assert scan(counting, counter, "B-1", site["room1"], scan_id=scan_id).result == "unexpected"
    assert StocktakeExpected.objects.filter(tag="B-1").count() == 1
    assert StocktakeScan.objects.count() == 1


def test_the_answer_carries_names_as_registered_whatever_they_contain(site, clerk_user, counter):
    # The scan reads its line as a JSON array built by the database: quotes, backslashes,
    # tabs, newlines and characters outside the BMP come back unchanged.
    odd = 'Dell "U2723" \\ 50% _x_\t😀\n显示器'
    room = LocationFactory(parent=site["building"], name='会议室 "B\\2"')
    holder = PersonFactory(name="O'Brien \\ 张")
    AssetFactory(tag="ODD-1", name=odd, location=room, holder=holder, assigned=True)
    stocktake = services.stocktake_create(
        actor=clerk_user, name="名称", locations=[site["building"]], counters=[counter]
    )
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)

    outcome = scan(stocktake, counter, "ODD-1", site["room1"])

    room.refresh_from_db()
    assert (outcome.result, outcome.tag, outcome.name) == ("location_mismatch", "ODD-1", odd)
    assert (outcome.expected_location, outcome.expected_holder) == (room.full_name, holder.name)
    assert outcome.line_id == StocktakeExpected.objects.get(stocktake=stocktake, tag="ODD-1").pk


def test_a_found_scan_runs_three_statements(counting, site, counter):
    # One read (status under a shared lock, the counter's areas, the scope, the location,
    # the line), the conditional update, the insert of the scan; the transaction around them
    # is a savepoint here, inside the test's transaction.
    def statements(code):
        with CaptureQueriesContext(connection) as queries:
            result = scan(counting, counter, code, site["room1"]).result
        sql = [q["sql"].split()[0] for q in queries.captured_queries]
        return result, [verb for verb in sql if verb not in ("SAVEPOINT", "RELEASE")]

    scan(counting, counter, "A-3", site["room2"])  # warm up
    assert statements("A-2") == ("found", ["SELECT", "UPDATE", "INSERT"])
    assert statements("A-2") == ("duplicate", ["SELECT", "INSERT"])


def test_a_counter_of_several_rooms_scans_in_each_of_them_only(site, clerk_user, counter, english):
    stocktake = services.stocktake_create(
        actor=clerk_user,
        name="两间",
        locations=[site["building"]],
        counters=[
            {"user": counter, "location": site["room1"]},
            {"user": counter, "location": site["room2"]},
        ],
    )
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    assert scan(stocktake, counter, "A-2", site["room1"]).result == "found"
    assert scan(stocktake, counter, "A-3", site["room2"]).result == "found"
    with pytest.raises(ScanRefused, match="assigned to count elsewhere"):
        scan(stocktake, counter, "A-1", site["building"])
    assert StocktakeExpected.objects.get(stocktake=stocktake, tag="A-1").result == "pending"


def test_a_counter_of_the_whole_scope_and_of_one_room_scans_everywhere(site, clerk_user, counter):
    stocktake = services.stocktake_create(
        actor=clerk_user,
        name="全部",
        locations=[site["building"]],
        counters=[counter, {"user": counter, "location": site["room1"]}],
    )
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    assert scan(stocktake, counter, "A-3", site["room2"]).result == "found"


def test_a_stocktake_without_a_scope_takes_scans_anywhere(site, clerk_user, counter):
    stocktake = services.stocktake_create(actor=clerk_user, name="全公司", counters=[counter])
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    assert scan(stocktake, counter, "B-1", site["other"]).result == "found"


# --- bad input: nothing recorded --------------------------------------------------------------


def assert_nothing_recorded(stocktake):
    assert not StocktakeScan.objects.filter(stocktake=stocktake).exists()
    assert set(lines(stocktake).values()) <= {"pending", "missing"}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("A-\x002", "The code contains control characters: check the scanner's settings."),
        ("A-2\x1b[0m", "The code contains control characters: check the scanner's settings."),
        ("A-\u200b2", "The code contains control characters: check the scanner's settings."),
        ("A" * 10_000, "This code is too long to be an asset label (more than 200 characters)."),
        ("   ", "Nothing was scanned."),
    ],
)
def test_bad_codes_are_refused(counting, site, counter, english, code, message):
    with pytest.raises(ScanRefused) as exc:
        scan(counting, counter, code, site["room1"])
    assert exc.value.messages == [message]
    assert_nothing_recorded(counting)


def test_a_code_with_a_wide_space_is_not_taken_for_a_control_character(counting, site, counter):
    assert scan(counting, counter, "A\u30002", site["room1"]).result == "unknown"


def test_scanning_into_no_such_stocktake_is_refused_like_a_stranger(counter, site, english):
    with pytest.raises(PermissionDenied, match="not a counter of this stocktake"):
        services.stocktake_scan(
            actor=counter,
            stocktake_id=999_999,
            scan_id=uuid.uuid4(),
            code="A-2",
            location_id=site["room1"].pk,
        )
    assert not StocktakeScan.objects.exists()


def test_scanning_a_stocktake_not_started_is_refused(site, clerk_user, counter, english):
    draft = services.stocktake_create(actor=clerk_user, name="草稿", counters=[counter])
    with pytest.raises(ScanRefused, match="has not started yet"):
        scan(draft, counter, "A-2", site["room1"])
    assert_nothing_recorded(draft)


def test_scanning_a_closed_stocktake_is_refused(counting, site, clerk_user, counter, english):
    services.stocktake_close(actor=clerk_user, stocktake=counting)
    with pytest.raises(ScanRefused, match="closed: no more scans"):
        scan(counting, counter, "A-2", site["room1"])
    assert_nothing_recorded(counting)


def test_a_location_outside_the_scope_is_refused(counting, site, counter, english):
    with pytest.raises(ScanRefused) as exc:
        scan(counting, counter, "A-2", site["other"])
    assert exc.value.messages == [f"{site['other'].full_name} is outside this stocktake's scope."]
    assert_nothing_recorded(counting)


def test_a_user_not_assigned_is_refused(counting, site, make_user, english):
    with pytest.raises(PermissionDenied, match="not a counter of this stocktake"):
        scan(counting, make_user("keeper"), "A-2", site["room1"])
    assert_nothing_recorded(counting)


def test_a_counter_of_one_room_cannot_scan_in_another(site, clerk_user, counter, english):
    stocktake = services.stocktake_create(
        actor=clerk_user,
        name="盘点",
        locations=[site["building"]],
        counters=[{"user": counter, "location": site["room1"]}],
    )
    services.stocktake_start(actor=clerk_user, stocktake=stocktake)
    with pytest.raises(ScanRefused, match="assigned to count elsewhere"):
        scan(stocktake, counter, "A-3", site["room2"])
    assert scan(stocktake, counter, "A-3", site["room1"]).result == "location_mismatch"


@pytest.mark.parametrize("scan_id", ["", "not-a-uuid", "1" * 5000])
def test_a_missing_scan_id_is_refused(counting, site, counter, scan_id):
    with pytest.raises(ScanRefused):
        scan(counting, counter, "A-2", site["room1"], scan_id=scan_id)
    assert_nothing_recorded(counting)


def test_an_unknown_location_is_refused(counting, site, counter):
    with pytest.raises(ScanRefused):
        services.stocktake_scan(
            actor=counter,
            stocktake_id=counting.pk,
            scan_id=uuid.uuid4(),
            code="A-2",
            location_id="x",
        )
    assert_nothing_recorded(counting)


# --- holder confirmation, close ---------------------------------------------------------------


def test_counter_confirms_the_real_holder(counting, site, counter):
    outcome = scan(counting, counter, "A-1", site["room1"])
    line = services.stocktake_confirm_holder(
        actor=counter, stocktake_id=counting.pk, line_id=outcome.line_id, holder=site["bob"].pk
    )
    assert (line.result, line.observed_holder) == ("holder_mismatch", site["bob"])
    line = services.stocktake_confirm_holder(
        actor=counter, stocktake_id=counting.pk, line_id=outcome.line_id, holder=site["alice"].pk
    )
    assert line.result == "found"


def test_confirming_a_holder_before_scanning_is_refused(counting, site, counter):
    line = StocktakeExpected.objects.get(tag="A-1")
    with pytest.raises(ScanRefused):
        services.stocktake_confirm_holder(
            actor=counter, stocktake_id=counting.pk, line_id=line.pk, holder=site["bob"].pk
        )
    line.refresh_from_db()
    assert (line.result, line.observed_holder) == ("pending", None)


def test_close_marks_the_rest_missing_and_freezes(counting, site, clerk_user, counter):
    scan(counting, counter, "A-2", site["room1"])
    closed = services.stocktake_close(actor=clerk_user, stocktake=counting)
    assert (closed.status, closed.closed_by) == ("closed", clerk_user)
    assert lines(counting) == {"A-1": "missing", "A-2": "found", "A-3": "missing"}


def test_a_retry_after_closing_gets_its_first_answer(counting, site, clerk_user, counter):
    scan_id = uuid.uuid4()
    scan(counting, counter, "A-2", site["room1"], scan_id=scan_id)
    services.stocktake_close(actor=clerk_user, stocktake=counting)
    again = scan(counting, counter, "A-2", site["room1"], scan_id=scan_id)
    assert (again.result, again.replay) == ("found", True)
    assert StocktakeScan.objects.count() == 1


def test_only_managers_close(counting, counter):
    with pytest.raises(PermissionDenied):
        services.stocktake_close(actor=counter, stocktake=counting)
    assert Stocktake.objects.get(pk=counting.pk).status == "counting"


def test_update_while_counting_keeps_the_scope(counting, site, clerk_user, counter, make_user):
    other = make_user("clerk")
    services.stocktake_update(
        actor=clerk_user,
        stocktake=counting,
        name="改名",
        counters=[counter, other],
        locations=[site["other"]],
    )
    counting.refresh_from_db()
    assert counting.name == "改名"
    assert list(counting.locations.all()) == [site["building"]]
    assert set(counting.counters.values_list("user", flat=True)) == {counter.pk, other.pk}


def test_delete_only_drafts(counting, site, clerk_user, counter):
    with pytest.raises(ValidationError):
        services.stocktake_delete(actor=clerk_user, stocktake=counting)
    draft = services.stocktake_create(actor=clerk_user, name="草稿", counters=[counter])
    services.stocktake_delete(actor=clerk_user, stocktake=draft)
    assert list(Stocktake.objects.values_list("pk", flat=True)) == [counting.pk]


def test_a_typed_holder_is_an_employee_number_even_when_it_looks_like_an_id(
    counting, site, counter
):
    carol = PersonFactory(name="Carol", employee_no=str(site["alice"].pk))
    outcome = scan(counting, counter, "A-1", site["room1"], holder=str(site["alice"].pk))
    assert outcome.result == "holder_mismatch"
    assert StocktakeExpected.objects.get(tag="A-1").observed_holder == carol
