"""Applying the results of a closed asset stocktake: each line through the assets services
(loss reports for approval, transfers with events), skipped lines with their reason, once
only (replay, two at once), managers only; and closed stocktakes are read-only."""

import threading
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from assets.lifecycle import Status
from assets.models import ApprovalRequest, Asset, AssetEvent
from assets.services.approvals import approval_request
from assets.services.lifecycle import asset_transition
from assets.tests.factories import AssetFactory, LocationFactory
from inventory.models import Stocktake, StocktakeExpected, StocktakeScan
from inventory.services import stocktakes as services
from inventory.services.stocktake_results import stocktake_apply

from .stocktake_helpers import build_site, closed_stocktake, count_all, scan, start

Result = StocktakeExpected.Result


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
def closed(site, manager, counter):
    return closed_stocktake(site, manager=manager, counter=counter)


def outcomes(stocktake) -> dict:
    return {
        tag: (action, note)
        for tag, action, note in StocktakeExpected.objects.filter(stocktake=stocktake)
        .order_by("tag")
        .values_list("tag", "applied_action", "apply_note")
    }


def asset(tag) -> Asset:
    return Asset.objects.select_related("holder", "location").get(tag=tag)


def test_applying_acts_on_every_line_through_the_lifecycle(
    closed, site, manager, english, django_capture_on_commit_callbacks
):
    events_before = AssetEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        result = stocktake_apply(stocktake=closed, actor=manager)

    assert result.replayed is False
    assert result.outcomes == {"transfer": 4, "report_lost": 2}
    got = outcomes(closed)
    assert {tag: action for tag, (action, _note) in got.items()} == {
        "A-1": "",
        "A-2": "transfer",
        "A-3": "transfer",
        "A-4": "report_lost",
        "A-5": "transfer",
        "A-6": "report_lost",
        "B-1": "transfer",
    }
    # an idle asset found elsewhere is moved there and stays in stock
    assert (asset("A-5").status, asset("A-5").location) == (Status.IN_STOCK, site["room2"])
    assert asset("A-5").holder is None
    assert AssetEvent.objects.filter(asset__tag="A-5", transition="relocate").count() == 1
    # location and holder differences: transferred to what was observed, with events
    assert (asset("A-2").location, asset("A-2").holder) == (site["room2"], site["alice"])
    assert (asset("A-3").location, asset("A-3").holder) == (site["room2"], site["bob"])
    assert asset("A-3").department == site["bob"].department
    assert (asset("B-1").location, asset("B-1").holder) == (site["room1"], site["bob"])
    transfers = AssetEvent.objects.filter(transition="transfer", actor=manager)
    assert sorted(transfers.values_list("asset__tag", flat=True)) == ["A-2", "A-3", "B-1"]
    assert AssetEvent.objects.count() == events_before + 4
    # missing: a loss report waiting for approval; nothing lost until it is approved
    approvals = ApprovalRequest.objects.filter(transition="report_lost", state="pending")
    assert sorted(approvals.values_list("asset__tag", flat=True)) == ["A-4", "A-6"]
    assert asset("A-4").status == Status.IN_STOCK
    line = StocktakeExpected.objects.get(stocktake=closed, tag="A-4")
    assert line.applied_approval == approvals.get(asset__tag="A-4")
    # the stocktake is applied
    closed.refresh_from_db()
    assert (closed.status, closed.applied_by) == (Stocktake.Status.APPLIED, manager)


def test_applying_again_changes_nothing(closed, manager):
    stocktake_apply(stocktake=closed, actor=manager)
    before = (AssetEvent.objects.count(), ApprovalRequest.objects.count(), outcomes(closed))

    again = stocktake_apply(stocktake=closed, actor=manager)

    assert again.replayed is True
    assert again.outcomes == {"transfer": 4, "report_lost": 2}
    after = (AssetEvent.objects.count(), ApprovalRequest.objects.count(), outcomes(closed))
    assert after == before


def test_an_interrupted_apply_finishes_the_rest_once(closed, manager):
    # given: an apply that stopped after the first line (its lines are claimed one by one)
    from inventory.services import stocktake_results

    first = StocktakeExpected.objects.filter(stocktake=closed, tag="A-2").get()
    stocktake_results._apply_one(first.pk, stocktake=closed, actor=manager)

    # when
    result = stocktake_apply(stocktake=closed, actor=manager)

    # then: A-2 was transferred once, the others once each
    assert result.outcomes == {"transfer": 4, "report_lost": 2}
    assert AssetEvent.objects.filter(asset__tag="A-2", transition="transfer").count() == 1


def test_applying_before_closing_is_refused(site, manager, counter, english):
    counting = start(site, manager=manager, counter=counter)
    with pytest.raises(ValidationError) as exc:
        stocktake_apply(stocktake=counting, actor=manager)
    assert exc.value.messages == ["Close the stocktake before applying its results."]
    assert not StocktakeExpected.objects.exclude(applied_action="").exists()


@pytest.mark.parametrize("role", ["keeper", "auditor", "employee", "dept_head"])
def test_only_managers_of_asset_stocktakes_may_apply(closed, make_user, role):
    with pytest.raises(PermissionDenied):
        stocktake_apply(stocktake=closed, actor=make_user(role))
    closed.refresh_from_db()
    assert closed.status == Stocktake.Status.CLOSED
    assert not StocktakeExpected.objects.exclude(applied_action="").exists()
    assert not AssetEvent.objects.filter(transition="transfer").exists()


def test_an_asset_moved_after_the_start_is_skipped(site, manager, counter, make_user, english):
    stocktake = start(site, manager=manager, counter=counter)
    count_all(stocktake, site, counter)
    # A-2 (counted at 102) is transferred to 楼B by somebody before the results are applied
    asset_transition(
        asset=asset("A-2"),
        transition="transfer",
        actor=manager,
        data={"holder": site["alice"], "location": site["other"]},
    )
    services.stocktake_close(actor=manager, stocktake=stocktake)

    stocktake_apply(stocktake=stocktake, actor=manager)

    assert outcomes(stocktake)["A-2"] == (
        "skipped",
        "The asset was moved after the stocktake started; check it by hand.",
    )
    assert asset("A-2").location == site["other"]


def test_an_idle_asset_found_with_someone_is_assigned_to_them(site, manager, counter):
    # given: A-4 is in stock in 102 by the register, and Carol turns out to have it there
    stocktake = start(site, manager=manager, counter=counter)
    scan(stocktake, counter, "A-4", site["room2"], holder=site["carol"])
    services.stocktake_close(actor=manager, stocktake=stocktake)

    # when
    stocktake_apply(stocktake=stocktake, actor=manager)

    # then
    a4 = asset("A-4")
    assert (a4.status, a4.holder, a4.location) == (Status.IN_USE, site["carol"], site["room2"])
    assert outcomes(stocktake)["A-4"] == ("transfer", "")
    assert AssetEvent.objects.filter(asset=a4, transition="assign", actor=manager).count() == 1


def test_a_missing_asset_with_a_pending_approval_is_skipped(closed, manager, english):
    approval_request(asset=asset("A-4"), transition="report_lost", actor=manager, reason="丢了")

    stocktake_apply(stocktake=closed, actor=manager)

    action, note = outcomes(closed)["A-4"]
    assert action == "skipped"
    assert note == "An approval for this asset is already pending: Report lost."
    assert ApprovalRequest.objects.filter(asset__tag="A-4").count() == 1


def test_a_lost_asset_found_in_the_count_goes_back_to_stock(site, manager, counter):
    lost = AssetFactory(tag="L-1", location=site["other"], status=Status.LOST)
    stocktake = start(site, manager=manager, counter=counter)
    scan(stocktake, counter, "L-1", site["room1"])
    services.stocktake_close(actor=manager, stocktake=stocktake)

    stocktake_apply(stocktake=stocktake, actor=manager)

    lost.refresh_from_db()
    assert (lost.status, lost.location) == (Status.IN_STOCK, site["room1"])
    assert outcomes(stocktake)["L-1"] == ("found", "")
    assert AssetEvent.objects.filter(asset=lost, transition="found").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_applies_at_once_act_on_each_line_once(make_user):
    if connection.vendor != "mysql":
        pytest.skip("row locks are the point: MariaDB")
    site = build_site(make_user)
    manager, counter = make_user("clerk"), make_user("clerk")
    stocktake = closed_stocktake(site, manager=manager, counter=counter)
    errors = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            stocktake_apply(stocktake=Stocktake.objects.get(pk=stocktake.pk), actor=manager)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert AssetEvent.objects.filter(transition="transfer").count() == 3
    assert ApprovalRequest.objects.filter(transition="report_lost").count() == 2
    assert Stocktake.objects.get(pk=stocktake.pk).status == Stocktake.Status.APPLIED


# --- Read-only once closed --------------------------------------------------------------------


def test_a_closed_stocktake_refuses_edits_and_scans(closed, site, manager, counter):
    scans = StocktakeScan.objects.count()
    with pytest.raises(ValidationError):
        services.stocktake_update(actor=manager, stocktake=closed, name="改名", counters=[counter])
    with pytest.raises(ValidationError):
        scan(closed, counter, "A-4", site["room2"], scan_id=uuid.uuid4())
    with pytest.raises(ValidationError):
        services.stocktake_close(actor=manager, stocktake=closed)
    line = StocktakeExpected.objects.get(stocktake=closed, tag="A-2")
    with pytest.raises(ValidationError):
        services.stocktake_confirm_holder(
            actor=counter, stocktake_id=closed.pk, line_id=line.pk, holder=site["bob"]
        )
    assert StocktakeScan.objects.count() == scans
    assert Stocktake.objects.get(pk=closed.pk).name == "2026 年度盘点"
    assert StocktakeExpected.objects.get(stocktake=closed, tag="A-4").result == Result.MISSING


def test_an_applied_stocktake_refuses_edits_and_scans(closed, site, manager, counter):
    stocktake_apply(stocktake=closed, actor=manager)
    with pytest.raises(ValidationError):
        services.stocktake_update(actor=manager, stocktake=closed, name="改名", counters=[counter])
    with pytest.raises(ValidationError):
        scan(closed, counter, "A-6", site["room2"])
    assert StocktakeExpected.objects.get(stocktake=closed, tag="A-6").result == Result.MISSING


# --- The view -----------------------------------------------------------------------------------


def test_the_manager_applies_from_the_report_with_htmx(closed, manager, client_as):
    client = client_as(user=manager)
    response = client.post(
        reverse("inventory:stocktake_apply", args=[closed.pk]), HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "stocktakeApplied"
    assert body.lstrip().startswith('<div id="report-body">')
    assert 'data-action="report_lost"' in body and 'data-action="transfer"' in body
    assert 'data-testid="apply-results"' not in body  # applied: no second button
    assert 'id="messages"' in body
    approval = ApprovalRequest.objects.get(asset__tag="A-4")
    assert reverse("approvals:detail", args=[approval.pk]) in body


def test_applying_without_htmx_redirects_to_the_report(closed, manager, client_as):
    response = client_as(user=manager).post(reverse("inventory:stocktake_apply", args=[closed.pk]))
    assert response.status_code == 302
    assert response.url == reverse("inventory:stocktake_report", args=[closed.pk])
    assert Stocktake.objects.get(pk=closed.pk).status == Stocktake.Status.APPLIED


@pytest.mark.parametrize("role", ["auditor", "keeper", "employee"])
def test_other_roles_may_not_apply(closed, client_as, role):
    response = client_as(role).post(reverse("inventory:stocktake_apply", args=[closed.pk]))
    assert response.status_code == 403
    assert Stocktake.objects.get(pk=closed.pk).status == Stocktake.Status.CLOSED


def test_apply_answers_get_with_405(closed, manager, client_as):
    response = client_as(user=manager).get(reverse("inventory:stocktake_apply", args=[closed.pk]))
    assert response.status_code == 405


def test_an_unknown_stocktake_is_404(manager, client_as, db):
    client = client_as(user=manager)
    assert client.post(reverse("inventory:stocktake_apply", args=[999999])).status_code == 404


def test_another_location_not_in_scope_stays_untouched(closed, manager):
    stranger = AssetFactory(tag="Z-1", location=LocationFactory(name="外地"))
    stocktake_apply(stocktake=closed, actor=manager)
    assert not AssetEvent.objects.filter(asset=stranger).exists()
