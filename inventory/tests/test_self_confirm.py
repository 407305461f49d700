"""Self-confirmation in asset stocktakes: the manager asks the holders of assets not found
yet, the holders are notified and confirm "I have it" from 我的资产 (optionally with a photo
checked like attachments, kept private), a confirmation counts as found with method self;
only the holder may confirm, only while counting; and the pages."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from inventory.models import Stocktake, StocktakeExpected
from inventory.services import stocktakes as services
from inventory.services.stocktake_confirmations import (
    EVENT_CONFIRM,
    confirmations_pending,
    stocktake_confirmations_request,
    stocktake_self_confirm,
)
from inventory.services.stocktake_results import stocktake_report
from notifications.models import Delivery

from .stocktake_helpers import build_site, scan, start

Result = StocktakeExpected.Result
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def site(make_user):
    return build_site(make_user)


@pytest.fixture
def manager(make_user):
    return make_user("clerk")


@pytest.fixture
def counter(make_user):
    return make_user("clerk")


@pytest.fixture
def counting(site, manager, counter):
    return start(site, manager=manager, counter=counter)


@pytest.fixture
def asked(counting, manager):
    stocktake_confirmations_request(stocktake=counting, actor=manager)
    return counting


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }
    return tmp_path


def jpeg(name="photo.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(out, "JPEG")
    return SimpleUploadedFile(name, out.getvalue(), "image/jpeg")


def line(stocktake, tag) -> StocktakeExpected:
    return StocktakeExpected.objects.get(stocktake=stocktake, tag=tag)


# --- Asking ----------------------------------------------------------------------------------


def test_asking_marks_the_lines_and_notifies_each_holder_once(
    counting, site, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        asked, holders = stocktake_confirmations_request(stocktake=counting, actor=manager)

    # A-3 (Alice) and A-6 (Carol); have no holder
    assert (asked, holders) == (4, 2)
    requested = StocktakeExpected.objects.filter(
        stocktake=counting, confirm_requested_at__isnull=False
    )
    assert sorted(requested.values_list("tag", flat=True)) == ["A-1", "A-2", "A-3", "A-6"]
    deliveries = Delivery.objects.filter(event_type=EVENT_CONFIRM)
    assert set(deliveries.values_list("recipient", flat=True)) == {
        site["users"]["Alice"].pk,
        site["users"]["Carol"].pk,
    }
    assert deliveries.filter(channel="in_app").count() == 2


def test_asking_again_asks_nobody_twice(asked, manager, django_capture_on_commit_callbacks):
    deliveries = Delivery.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert stocktake_confirmations_request(stocktake=asked, actor=manager) == (0, 0)
    assert Delivery.objects.count() == deliveries


def test_a_found_asset_is_not_asked_about(counting, site, manager, counter):
    scan(counting, counter, "A-1", site["room1"])
    asked, _holders = stocktake_confirmations_request(stocktake=counting, actor=manager)
    assert asked == 3
    assert line(counting, "A-1").confirm_requested_at is None


@pytest.mark.parametrize("role", ["keeper", "auditor", "employee"])
def test_only_managers_may_ask(counting, make_user, role):
    with pytest.raises(PermissionDenied):
        stocktake_confirmations_request(stocktake=counting, actor=make_user(role))
    assert not StocktakeExpected.objects.filter(confirm_requested_at__isnull=False).exists()


def test_a_closed_stocktake_asks_nobody(counting, manager):
    services.stocktake_close(actor=manager, stocktake=counting)
    with pytest.raises(ValidationError):
        stocktake_confirmations_request(stocktake=counting, actor=manager)


# --- Confirming --------------------------------------------------------------------------------


def test_the_holder_confirms_and_it_counts_as_found_by_self(asked, site, local_storage):
    alice = site["users"]["Alice"]
    assert [x.tag for x in confirmations_pending(user=alice)] == ["A-1", "A-2", "A-3"]

    confirmed = stocktake_self_confirm(
        line=line(asked, "A-2"), actor=alice, photo=jpeg(), note="在家办公"
    )

    assert (confirmed.result, confirmed.method) == (Result.FOUND, "self")
    assert (confirmed.found_by, confirmed.observed_holder) == (alice, site["alice"])
    assert confirmed.confirmed_at is not None and confirmed.confirm_note == "在家办公"
    assert confirmed.confirm_photo.name.startswith(f"stocktakes/{asked.pk}/")
    assert (local_storage / confirmed.confirm_photo.name).read_bytes()[:2] == b"\xff\xd8"
    assert [x.tag for x in confirmations_pending(user=alice)] == ["A-1", "A-3"]
    report = stocktake_report(stocktake=asked, scope=False)
    assert report.self_confirmed == 1


def test_only_the_holder_may_confirm(asked, site):
    bob = site["users"]["Bob"]
    with pytest.raises(PermissionDenied):
        stocktake_self_confirm(line=line(asked, "A-2"), actor=bob)
    assert line(asked, "A-2").result == Result.PENDING


def test_an_asset_already_counted_needs_no_confirmation(asked, site, counter, english):
    scan(asked, counter, "A-2", site["room1"])
    with pytest.raises(ValidationError) as exc:
        stocktake_self_confirm(line=line(asked, "A-2"), actor=site["users"]["Alice"])
    assert exc.value.messages == ["A-2 has already been counted: no confirmation needed."]
    assert line(asked, "A-2").method == "scan"


def test_confirming_without_being_asked_is_refused(counting, site, english):
    with pytest.raises(ValidationError) as exc:
        stocktake_self_confirm(line=line(counting, "A-2"), actor=site["users"]["Alice"])
    assert exc.value.messages == ["No confirmation was asked for this asset."]


def test_confirming_after_close_is_refused(asked, site, manager, english):
    services.stocktake_close(actor=manager, stocktake=asked)
    with pytest.raises(ValidationError) as exc:
        stocktake_self_confirm(line=line(asked, "A-2"), actor=site["users"]["Alice"])
    assert exc.value.messages == ["This stocktake is closed: confirmations are no longer accepted."]
    assert line(asked, "A-2").result == Result.MISSING


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("x.jpg", b"MZ\x90\x00" + b"\x00" * 500, "image/jpeg"),  # a program
        SimpleUploadedFile(
            "x.pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
        ),
    ],
)
def test_a_photo_that_is_not_a_picture_is_refused(asked, site, upload, local_storage):
    with pytest.raises(ValidationError) as exc:
        stocktake_self_confirm(line=line(asked, "A-2"), actor=site["users"]["Alice"], photo=upload)
    assert "photo" in exc.value.message_dict
    assert line(asked, "A-2").result == Result.PENDING
    assert not [p for p in local_storage.rglob("*") if p.is_file()]


def test_a_photo_over_the_size_limit_is_refused(asked, site, settings, local_storage):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError):
        stocktake_self_confirm(line=line(asked, "A-2"), actor=site["users"]["Alice"], photo=jpeg())
    assert line(asked, "A-2").result == Result.PENDING


# --- Pages ----------------------------------------------------------------------------------


def test_my_assets_loads_the_confirmation_box(asked, site, client):
    client.force_login(site["users"]["Alice"])
    page = client.get(reverse("me:assets"))
    assert page.status_code == 200
    url = reverse("me:stocktake_confirmations")
    assert f'hx-get="{url}"' in page.content.decode()

    box = client.get(url, **HTMX)

    body = box.content.decode()
    assert box.status_code == 200
    assert body.lstrip().startswith('<div id="stocktake-confirmations">')
    assert body.count('data-testid="confirm-row"') == 3


def test_the_confirmation_page_without_htmx(asked, site, client):
    client.force_login(site["users"]["Bob"])
    response = client.get(reverse("me:stocktake_confirmations"))
    assert response.status_code == 200
    assert 'data-testid="nothing-to-confirm"' in response.content.decode()


def test_a_user_without_a_staff_record_gets_403(client_as, db):
    response = client_as("clerk").get(reverse("me:stocktake_confirmations"))
    assert response.status_code == 403


def test_the_holder_confirms_with_htmx_and_a_photo(asked, site, client, local_storage):
    client.force_login(site["users"]["Alice"])
    target = line(asked, "A-3")

    response = client.post(
        reverse("me:stocktake_confirm", args=[target.pk]),
        {"photo": jpeg(), "note": "出差中"},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "stocktakeConfirmed"
    assert body.count('data-testid="confirm-row"') == 2
    assert 'id="messages"' in body
    target.refresh_from_db()
    assert (target.result, target.method, target.confirm_note) == (Result.FOUND, "self", "出差中")
    assert target.confirm_photo


def test_confirming_without_htmx_redirects_to_my_assets(asked, site, client):
    client.force_login(site["users"]["Alice"])
    target = line(asked, "A-1")
    response = client.post(reverse("me:stocktake_confirm", args=[target.pk]))
    assert response.status_code == 302
    assert response.url == reverse("me:assets")
    assert line(asked, "A-1").method == "self"


def test_another_holders_line_is_404(asked, site, client):
    client.force_login(site["users"]["Bob"])
    target = line(asked, "A-1")  # Alice's
    response = client.post(reverse("me:stocktake_confirm", args=[target.pk]))
    assert response.status_code == 404
    assert line(asked, "A-1").result == Result.PENDING


def test_the_manager_page_counts_and_asks(counting, manager, client_as):
    client = client_as(user=manager)
    url = reverse("inventory:stocktake_confirm_requests", args=[counting.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert page.context["counts"]["not_asked"] == 4
    assert 'data-testid="ask-holders"' in page.content.decode()

    fragment = client.get(url, **HTMX)
    assert fragment.content.decode().lstrip().startswith('<div id="confirm-requests">')

    asked = client.post(url, **HTMX)
    assert asked.status_code == 200
    assert 'data-testid="count-waiting">4<' in asked.content.decode()


def test_auditors_read_the_manager_page_but_may_not_ask(counting, client_as):
    client = client_as("auditor")
    url = reverse("inventory:stocktake_confirm_requests", args=[counting.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="ask-holders"' not in page.content.decode()
    assert client.post(url).status_code == 403
    assert not StocktakeExpected.objects.filter(confirm_requested_at__isnull=False).exists()


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_other_roles_do_not_see_the_manager_page(counting, client_as, role):
    url = reverse("inventory:stocktake_confirm_requests", args=[counting.pk])
    assert client_as(role).get(url).status_code == 403


def test_the_photo_is_served_to_the_manager_and_the_holder_only(
    asked, site, manager, client, client_as, local_storage
):
    target = line(asked, "A-2")
    stocktake_self_confirm(line=target, actor=site["users"]["Alice"], photo=jpeg())
    url = reverse("inventory:stocktake_confirm_photo", args=[asked.pk, target.pk])

    as_manager = client_as(user=manager).get(url)
    assert as_manager.status_code == 200
    assert b"".join(as_manager.streaming_content)[:2] == b"\xff\xd8"
    client.force_login(site["users"]["Alice"])
    assert client.get(url).status_code == 200
    client.force_login(site["users"]["Bob"])
    assert client.get(url).status_code == 404


@pytest.mark.s3
def test_the_photo_is_kept_private_in_the_bucket(asked, site, manager, client_as, s3_storage):
    target = line(asked, "A-2")
    stocktake_self_confirm(line=target, actor=site["users"]["Alice"], photo=jpeg())
    target.refresh_from_db()
    s3 = s3_storage.client()
    head = s3.head_object(Bucket=s3_storage.bucket, Key=target.confirm_photo.name)
    assert head["ContentLength"] > 0
    response = client_as(user=manager).get(
        reverse("inventory:stocktake_confirm_photo", args=[asked.pk, target.pk])
    )
    assert response.status_code == 302
    assert "X-Amz-Signature" in response["Location"]


def test_the_manager_page_costs_a_constant_number_of_queries(
    asked, site, manager, client_as, django_assert_max_num_queries, local_storage
):
    for tag in ("A-1", "A-2", "A-3"):
        stocktake_self_confirm(line=line(asked, tag), actor=site["users"]["Alice"], photo=jpeg())
    client = client_as(user=manager)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("inventory:stocktake_confirm_requests", args=[asked.pk]))
    assert len(response.context["confirmed"]) == 3
    assert Stocktake.objects.get(pk=asked.pk).status == Stocktake.Status.COUNTING


def test_the_confirmation_box_costs_a_constant_number_of_queries(
    counting, site, manager, client, django_assert_max_num_queries
):
    from assets.tests.factories import AssetFactory

    stocktake_confirmations_request(stocktake=counting, actor=manager)
    client.force_login(site["users"]["Alice"])
    url = reverse("me:stocktake_confirmations")
    with django_assert_max_num_queries(6):
        few = client.get(url, **HTMX)
    for n in range(15):
        AssetFactory(
            tag=f"M-{n:02d}", location=site["room1"], holder=site["alice"], status="in_use"
        )
    more = start(site, manager=manager, counter=manager)
    stocktake_confirmations_request(stocktake=more, actor=manager)
    with django_assert_max_num_queries(6):
        many = client.get(url, **HTMX)
    assert few.content.decode().count('data-testid="confirm-row"') == 3
    assert many.content.decode().count('data-testid="confirm-row"') == 3 + 18
