"""Stocktake pages: list, form, detail with progress fragments, start / close, the scanning page
and its JSON endpoint. Each: full page, htmx fragment, wrong role, bounded query counts."""

import uuid

import pytest
from django.urls import reverse

from assets.tests.factories import AssetFactory, LocationFactory, PersonFactory
from inventory.models import Stocktake, StocktakeExpected, StocktakeScan
from inventory.services import stocktakes as services

HTMX = {"HTTP_HX_REQUEST": "true"}
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _english_pages(client):
    """Pages and JSON answers in English (the msgids)."""
    client.cookies["django_language"] = "en"


@pytest.fixture
def place(db):
    building = LocationFactory(name="楼A", kind="building")
    room1 = LocationFactory(parent=building, name="101")
    room2 = LocationFactory(parent=building, name="102")
    other = LocationFactory(name="楼B", kind="building")
    holder = PersonFactory(name="Alice")
    AssetFactory(tag="V-1", location=room1, holder=holder, assigned=True)
    AssetFactory(tag="V-2", location=room1)
    AssetFactory(tag="V-3", location=room2)
    AssetFactory(tag="X-1", location=other)
    return {"building": building, "room1": room1, "room2": room2, "other": other}


@pytest.fixture
def manager(make_user):
    return make_user("clerk", username="manager")


@pytest.fixture
def counter(make_user):
    return make_user("keeper", username="counter")


@pytest.fixture
def draft(place, manager, counter):
    return services.stocktake_create(
        actor=manager, name="楼A 盘点", locations=[place["building"]], counters=[counter]
    )


@pytest.fixture
def counting(draft, manager):
    return services.stocktake_start(actor=manager, stocktake=draft)


def scan_url(stocktake):
    return reverse("inventory:stocktake_scan", args=[stocktake.pk])


def post_scan(client, stocktake, code, location, **extra):
    data = {"scan_id": str(uuid.uuid4()), "code": code, "location": location.pk, **extra}
    return client.post(scan_url(stocktake), data, **JSON)


# --- list -------------------------------------------------------------------------------------


def test_list_full_page(client_as, manager, counting, english):
    response = client_as(user=manager).get(reverse("inventory:stocktake_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "楼A 盘点" in html and "0 / 3" in html and "New stocktake" in html


def test_list_and_detail_render_when_the_creator_was_deleted(client_as, manager, counting):
    # given: the user who created the stocktake is gone (created_by SET_NULL)
    Stocktake.objects.filter(pk=counting.pk).update(created_by=None)

    # when
    listing = client_as(user=manager).get(reverse("inventory:stocktake_list"))
    detail = client_as(user=manager).get(counting.get_absolute_url())

    # then
    assert (listing.status_code, detail.status_code) == (200, 200)
    assert "—" in listing.content.decode()


def test_list_htmx_gets_the_table_only(client_as, manager, counting):
    response = client_as(user=manager).get(reverse("inventory:stocktake_list"), **HTMX)
    html = response.content.decode()
    assert html.strip().startswith('<div id="stocktake-table">') and "<html" not in html


def test_list_filters_by_status(client_as, manager, counting, draft):
    url = reverse("inventory:stocktake_list") + "?status=closed"
    assert "楼A 盘点" not in client_as(user=manager).get(url).content.decode()


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_list_refuses_other_roles(client_as, role):
    assert client_as(role).get(reverse("inventory:stocktake_list")).status_code == 403


def test_auditor_reads_but_cannot_create(client_as, counting):
    client = client_as("auditor")
    assert client.get(reverse("inventory:stocktake_list")).status_code == 200
    assert client.get(reverse("inventory:stocktake_create")).status_code == 403
    assert client.get(counting.get_absolute_url()).status_code == 200


def test_list_query_count_does_not_grow(
    client_as, manager, counter, place, django_assert_max_num_queries
):
    client = client_as(user=manager)
    for n in range(3):
        services.stocktake_create(actor=manager, name=f"S{n}", counters=[counter])
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("inventory:stocktake_list"))
    for n in range(20):
        s = services.stocktake_create(actor=manager, name=f"T{n}", counters=[counter])
        services.stocktake_start(actor=manager, stocktake=s)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("inventory:stocktake_list"))


# --- form -------------------------------------------------------------------------------------


def test_create_page_and_post(client_as, manager, counter, place):
    client = client_as(user=manager)
    assert client.get(reverse("inventory:stocktake_create")).status_code == 200
    response = client.post(
        reverse("inventory:stocktake_create"),
        {
            "name": "月度盘点",
            "kind": "asset",
            "locations": [place["building"].pk],
            "counters": [counter.pk],
            "area_user": [str(manager.pk), ""],
            "area_location": [str(place["room1"].pk), ""],
        },
    )
    stocktake = Stocktake.objects.get(name="月度盘点")
    assert response.status_code == 302 and response.url == stocktake.get_absolute_url()
    assert set(stocktake.counters.values_list("user", "location")) == {
        (counter.pk, None),
        (manager.pk, place["room1"].pk),
    }


def test_create_post_invalid_shows_errors_and_saves_nothing(client_as, manager, english):
    response = client_as(user=manager).post(
        reverse("inventory:stocktake_create"), {"name": "", "kind": "asset"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Stocktake.objects.exists()


def test_keeper_may_only_create_consumable_stocktakes(client_as, counter, place):
    response = client_as("keeper").post(
        reverse("inventory:stocktake_create"),
        {"name": "资产", "kind": "asset", "counters": [counter.pk]},
    )
    assert response.status_code == 200  # the kind is not among the choices
    assert not Stocktake.objects.exists()


@pytest.mark.parametrize("role", ["employee", "auditor", "dept_head"])
def test_create_refuses_other_roles(client_as, role):
    assert client_as(role).get(reverse("inventory:stocktake_create")).status_code == 403


def test_edit_page(client_as, manager, draft):
    client = client_as(user=manager)
    url = reverse("inventory:stocktake_edit", args=[draft.pk])
    assert client.get(url).status_code == 200
    assert client_as("auditor").get(url).status_code == 403


# --- detail -----------------------------------------------------------------------------------


def test_detail_full_page_with_progress(client_as, manager, counting, english):
    response = client_as(user=manager).get(counting.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="stocktake-progress"' in html and 'hx-trigger="every 5s' in html
    assert 'data-testid="total-expected">3<' in html
    assert 'data-testid="close"' in html and 'data-testid="start"' not in html


def test_detail_htmx_gets_the_progress_fragment(client_as, manager, counter, counting, place):
    services.stocktake_scan(
        actor=counter,
        stocktake_id=counting.pk,
        scan_id=uuid.uuid4(),
        code="V-2",
        location_id=place["room1"].pk,
    )
    response = client_as(user=manager).get(counting.get_absolute_url(), **HTMX)
    html = response.content.decode()
    assert html.strip().startswith('<section id="stocktake-progress"') and "<html" not in html
    assert 'data-testid="total-found">1<' in html and 'data-testid="total-missing">2<' in html


def test_detail_htmx_lists_what_is_not_found_at_a_location(client_as, manager, counting, place):
    url = f"{counting.get_absolute_url()}?location={place['room1'].pk}"
    html = client_as(user=manager).get(url, **HTMX).content.decode()
    assert html.strip().startswith('<section id="stocktake-missing"')
    assert "V-1" in html and "V-2" in html and "V-3" not in html


def test_detail_of_an_invisible_stocktake_is_404(client_as, counting, make_user):
    other_counter = make_user("keeper")
    # keepers see consumable stocktakes and those they count, not this one
    assert client_as(user=other_counter).get(counting.get_absolute_url()).status_code == 404


def test_detail_refuses_employees(client_as, counting):
    assert client_as("employee").get(counting.get_absolute_url()).status_code == 403


def test_detail_query_count_does_not_grow_with_lines(
    client_as, manager, counter, place, django_assert_max_num_queries
):
    client = client_as(user=manager)
    small = services.stocktake_create(
        actor=manager, name="小", locations=[place["room2"]], counters=[counter]
    )
    services.stocktake_start(actor=manager, stocktake=small)
    with django_assert_max_num_queries(25) as few:
        client.get(small.get_absolute_url())
    for n in range(30):
        AssetFactory(tag=f"B-{n}", location=LocationFactory(parent=place["building"]))
    big = services.stocktake_create(
        actor=manager, name="大", locations=[place["building"]], counters=[counter]
    )
    services.stocktake_start(actor=manager, stocktake=big)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(big.get_absolute_url())


# --- start, close -----------------------------------------------------------------------------


def test_start_and_close_through_the_page(client_as, manager, draft):
    client = client_as(user=manager)
    response = client.post(reverse("inventory:stocktake_start", args=[draft.pk]))
    assert response.status_code == 302
    assert Stocktake.objects.get(pk=draft.pk).status == "counting"
    client.post(reverse("inventory:stocktake_close", args=[draft.pk]))
    assert Stocktake.objects.get(pk=draft.pk).status == "closed"
    assert set(StocktakeExpected.objects.values_list("result", flat=True)) == {"missing"}


@pytest.mark.parametrize("role", ["auditor", "keeper"])
def test_start_refused_to_non_managers(client_as, draft, role):
    response = client_as(role).post(reverse("inventory:stocktake_start", args=[draft.pk]))
    assert response.status_code in (403, 404)
    assert Stocktake.objects.get(pk=draft.pk).status == "draft"


def test_counter_cannot_close(client_as, counter, counting):
    response = client_as(user=counter).post(
        reverse("inventory:stocktake_close", args=[counting.pk])
    )
    assert response.status_code == 403
    assert Stocktake.objects.get(pk=counting.pk).status == "counting"


def test_delete_draft(client_as, manager, draft):
    response = client_as(user=manager).post(reverse("inventory:stocktake_delete", args=[draft.pk]))
    assert response.status_code == 302 and not Stocktake.objects.exists()


# --- scanning ---------------------------------------------------------------------------------


def test_scan_page_for_a_counter(client_as, counter, counting, place):
    response = client_as(user=counter).get(scan_url(counting))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="scan-code"' in html and "html5-qrcode.min.js" in html
    assert place["room1"].full_name in html and place["other"].full_name not in html


@pytest.mark.parametrize("role", ["clerk", "employee", "auditor"])
def test_scan_page_refuses_non_counters(client_as, counting, role):
    assert client_as(role).get(scan_url(counting)).status_code == 403


def test_scan_json_found(client_as, counter, counting, place, english):
    response = post_scan(client_as(user=counter), counting, "V-2", place["room1"])
    assert response.status_code == 200
    data = response.json()
    assert (data["result"], data["label"], data["colour"], data["tag"]) == (
        "found",
        "In place",
        "success",
        "V-2",
    )


def test_scan_json_is_idempotent(client_as, counter, counting, place):
    client = client_as(user=counter)
    data = {"scan_id": str(uuid.uuid4()), "code": "V-3", "location": place["room1"].pk}
    first = client.post(scan_url(counting), data, **JSON).json()
    again = client.post(scan_url(counting), data, **JSON).json()
    assert (first["result"], again["result"], again["replay"]) == (
        "location_mismatch",
        "location_mismatch",
        True,
    )
    assert StocktakeScan.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("V-\x072", "The code contains control characters: check the scanner's settings."),
        ("V" * 10_000, "This code is too long to be an asset label (more than 200 characters)."),
    ],
)
def test_scan_json_bad_code_is_refused(client_as, counter, counting, place, english, code, message):
    response = post_scan(client_as(user=counter), counting, code, place["room1"])
    assert (response.status_code, response.json()["error"]) == (400, message)
    assert not StocktakeScan.objects.exists()


def test_scan_json_outside_scope(client_as, counter, counting, place, english):
    response = post_scan(client_as(user=counter), counting, "V-2", place["other"])
    assert response.status_code == 400
    assert (
        response.json()["error"] == f"{place['other'].full_name} is outside this stocktake's scope."
    )
    assert not StocktakeScan.objects.exists()


@pytest.mark.parametrize("role", ["clerk", "employee", "keeper"])
def test_scan_json_by_someone_not_assigned(client_as, counting, place, english, role):
    response = post_scan(client_as(role), counting, "V-2", place["room1"])
    assert response.status_code == 403
    assert response.json()["error"] == "You are not a counter of this stocktake."
    assert not StocktakeScan.objects.exists()


def test_scan_json_into_a_draft_or_closed_stocktake(
    client_as, manager, counter, draft, place, english
):
    client = client_as(user=counter)
    response = post_scan(client, draft, "V-2", place["room1"])
    assert (response.status_code, response.json()["error"]) == (
        400,
        "This stocktake has not started yet.",
    )
    services.stocktake_start(actor=manager, stocktake=draft)
    services.stocktake_close(actor=manager, stocktake=draft)
    response = post_scan(client, draft, "V-2", place["room1"])
    assert response.json()["error"] == "This stocktake is closed: no more scans."
    assert not StocktakeScan.objects.exists()


def test_scan_json_unknown_stocktake(client_as, counter):
    response = client_as(user=counter).post(
        reverse("inventory:stocktake_scan", args=[999999]),
        {"scan_id": str(uuid.uuid4()), "code": "V-2", "location": 1},
        **JSON,
    )
    assert response.status_code in (403, 404)


def test_scan_without_javascript_renders_the_page_with_the_result(
    client_as, counter, counting, place
):
    response = client_as(user=counter).post(
        scan_url(counting),
        {"scan_id": str(uuid.uuid4()), "code": "NEW-TAG", "location": place["room1"].pk},
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-result="unknown"' in html


def test_scan_post_is_lean(client_as, counter, counting, place, django_assert_max_num_queries):
    client = client_as(user=counter)
    post_scan(client, counting, "V-1", place["room1"])  # warm up (session, content types)
    with django_assert_max_num_queries(12):
        assert post_scan(client, counting, "V-2", place["room1"]).status_code == 200


def test_confirm_holder_endpoint(client_as, counter, counting, place):
    client = client_as(user=counter)
    line = post_scan(client, counting, "V-1", place["room1"]).json()["line"]
    bob = PersonFactory(name="Bob", employee_no="E-BOB")
    response = client.post(
        reverse("inventory:stocktake_confirm_holder", args=[counting.pk]),
        {"line": line, "holder": "E-BOB"},
    )
    assert response.status_code == 200 and response.json()["result"] == "holder_mismatch"
    assert StocktakeExpected.objects.get(pk=line).observed_holder == bob


def test_confirm_holder_by_someone_else_is_refused(client_as, counter, counting, place):
    line = post_scan(client_as(user=counter), counting, "V-1", place["room1"]).json()["line"]
    response = client_as("clerk").post(
        reverse("inventory:stocktake_confirm_holder", args=[counting.pk]),
        {"line": line, "holder": "whoever"},
    )
    assert response.status_code == 403
    assert StocktakeExpected.objects.get(pk=line).observed_holder is None


def test_keeper_creates_and_starts_a_consumable_stocktake(client_as, make_user):
    from inventory.models import CountSheet
    from inventory.tests.factories import WarehouseFactory

    keeper = make_user("keeper")
    warehouse = WarehouseFactory(keepers=[keeper])
    client = client_as(user=keeper)
    response = client.post(
        reverse("inventory:stocktake_create"),
        {
            "name": "耗材盘点",
            "kind": "consumable",
            "warehouses": [warehouse.pk],
            "counters": [keeper.pk],
        },
    )
    stocktake = Stocktake.objects.get(name="耗材盘点")
    assert response.status_code == 302 and stocktake.kind == "consumable"
    client.post(reverse("inventory:stocktake_start", args=[stocktake.pk]))
    assert Stocktake.objects.get(pk=stocktake.pk).status == "counting"
    assert list(CountSheet.objects.values_list("warehouse", flat=True)) == [warehouse.pk]
    html = client.get(stocktake.get_absolute_url()).content.decode()
    assert 'data-testid="sheets"' in html and 'data-testid="scan"' not in html


def test_an_unknown_label_is_recorded_with_a_photo(client_as, counter, counting, place):
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("label.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
    response = client_as(user=counter).post(
        scan_url(counting),
        {
            "scan_id": str(uuid.uuid4()),
            "code": "NO-TAG-9",
            "location": place["room1"].pk,
            "note": "白色路由器",
            "photo": photo,
        },
        **JSON,
    )
    assert response.json()["result"] == "unknown"
    scan = StocktakeScan.objects.get()
    assert (scan.note, scan.photo.name.startswith(f"stocktakes/{counting.pk}/")) == (
        "白色路由器",
        True,
    )
    scan.photo.delete(save=False)


def test_a_photo_that_is_not_an_image_is_refused(client_as, counter, counting, place, english):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_as(user=counter).post(
        scan_url(counting),
        {
            "scan_id": str(uuid.uuid4()),
            "code": "NO-TAG-9",
            "location": place["room1"].pk,
            "photo": SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream"),
        },
        **JSON,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "The photo must be a JPEG, PNG, WebP or HEIC image."
    assert not StocktakeScan.objects.exists()
