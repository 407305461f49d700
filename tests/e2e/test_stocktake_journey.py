"""Issue 6's journey on phones (375×812), each person in a browser of their own: the clerk
creates a stocktake of 楼A (five assets registered in room 101) with one counter and starts
it; the counter picks the room and scans by typing tags into the wedge box (a scanner types
the code and Enter): three in place, one found in room 102 (moved), one unknown label; one
asset is never found. The clerk watches the progress update by itself, closes the
stocktake, reviews the report and applies it: the missing asset goes to approval (report
lost) and the moved one is transferred to room 102."""

from django.utils import translation
from playwright.sync_api import expect

from assets.models import ApprovalRequest, Asset, AssetEvent
from assets.tests.factories import AssetFactory, LocationFactory, PersonFactory
from inventory.models import Stocktake, StocktakeExpected

PASSWORD = "Passw0rd!2026"
PHONE = {"width": 375, "height": 812}


def zh(label) -> str:
    """A label (lazy or a plain msgid) as the pages show it (zh-hans)."""
    with translation.override("zh-hans"):
        return translation.gettext(label) if isinstance(label, str) else str(label)


def sign_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wedge(page, code: str, expected: str) -> None:
    """Type the code into the scan box and press Enter; wait for the answer."""
    box = page.get_by_test_id("scan-code")
    box.click()
    box.press_sequentially(code)
    box.press("Enter")
    result = page.get_by_test_id("scan-result")
    expect(result).to_have_attribute("data-result", expected)
    expect(result).to_contain_text(code)


def test_stocktake_scanned_on_a_phone_closed_and_applied(make_page, make_user, screenshots):
    # given: 楼A with rooms 101 and 102, five assets in use in 101, a clerk and a counter
    building = LocationFactory(name="楼A", kind="building")
    room101 = LocationFactory(parent=building, name="101")
    room102 = LocationFactory(parent=building, name="102")
    holder = PersonFactory(name="张三")
    tags = [f"ZC-2026-{n:04d}" for n in range(1, 6)]
    for tag in tags:
        AssetFactory(tag=tag, location=room101, holder=holder, assigned=True)
    in_place, moved, missing = tags[:3], tags[3], tags[4]
    clerk = make_user("clerk", password=PASSWORD, first_name="李资产")
    counter = make_user("keeper", password=PASSWORD, first_name="王盘点")
    manager_page = make_page(**PHONE)
    counter_page = make_page(**PHONE)
    manager_page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of start/close
    counter_page.on("dialog", lambda dialog: dialog.accept())
    sign_in(manager_page, clerk)
    sign_in(counter_page, counter)

    # when: the clerk creates the stocktake of 楼A with the counter, and starts it
    manager_page.goto("/inventory/stocktakes/")
    manager_page.get_by_test_id("new-stocktake").click()
    manager_page.fill("#id_name", "2026 年 11 月 楼A 盘点")
    manager_page.select_option("#id_locations", [str(building.pk)])
    manager_page.select_option("#id_counters", [str(counter.pk)])
    manager_page.get_by_test_id("save-stocktake").click()
    expect(manager_page.get_by_test_id("stocktake-status")).to_have_text(
        zh(Stocktake.Status.DRAFT.label)
    )
    stocktake = Stocktake.objects.get()
    manager_page.get_by_test_id("start").click()
    expect(manager_page.get_by_test_id("stocktake-status")).to_have_text(
        zh(Stocktake.Status.COUNTING.label)
    )
    expect(manager_page.get_by_test_id("total-expected")).to_have_text("5")
    expect(manager_page.get_by_test_id("total-found")).to_have_text("0")

    # and the counter opens the scanning page from the list and picks room 101
    counter_page.goto("/inventory/stocktakes/")
    counter_page.get_by_test_id(f"scan-link-{stocktake.pk}").click()
    expect(counter_page.get_by_test_id("scan-form")).to_be_visible()
    counter_page.get_by_test_id("scan-location").select_option(str(room101.pk))
    for tag in in_place:
        wedge(counter_page, tag, "found")
    wedge(counter_page, in_place[0], "duplicate")  # scanned twice: counted once
    # room 102: the moved asset, and a label that is not in the register
    counter_page.get_by_test_id("scan-location").select_option(str(room102.pk))
    wedge(counter_page, moved, "location_mismatch")
    wedge(counter_page, "UNKNOWN-LABEL-7", "unknown")
    counter_page.screenshot(path=screenshots / "stocktake-scan-phone.png", full_page=True)
    expect(counter_page.get_by_test_id("recent-scans").locator("li")).to_have_count(6)

    # then: the clerk's page shows the progress without reloading (htmx polling)
    expect(manager_page.get_by_test_id("total-found")).to_have_text("4", timeout=15_000)
    expect(manager_page.get_by_test_id("total-missing")).to_have_text("1")
    expect(manager_page.get_by_test_id("total-location-mismatch")).to_have_text("1")
    expect(manager_page.get_by_test_id("total-unknown")).to_have_text("1")
    # the not-yet-found list of room 101 names the missing asset
    manager_page.get_by_test_id("missing-link").first.click()
    expect(manager_page.get_by_test_id("missing-row")).to_have_count(1)
    expect(manager_page.get_by_test_id("missing-row")).to_contain_text(missing)
    manager_page.screenshot(path=screenshots / "stocktake-progress-phone.png", full_page=True)

    # when: the clerk closes the stocktake and opens the report
    manager_page.get_by_test_id("close").click()
    expect(manager_page.get_by_test_id("stocktake-status")).to_have_text(
        zh(Stocktake.Status.CLOSED.label)
    )
    counter_page.reload()
    expect(counter_page.get_by_test_id("scan-closed")).to_be_visible()
    manager_page.get_by_test_id("report").click()
    expect(manager_page.get_by_test_id("report-xlsx")).to_be_visible()
    expect(manager_page.locator("body")).to_contain_text(missing)
    expect(manager_page.locator("body")).to_contain_text(moved)
    expect(manager_page.locator("body")).to_contain_text("UNKNOWN-LABEL-7")
    manager_page.screenshot(path=screenshots / "stocktake-report-phone.png", full_page=True)

    # and applies the results
    manager_page.get_by_test_id("apply-results").click()
    expect(manager_page.get_by_test_id("stocktake-status")).to_have_text(
        zh(Stocktake.Status.APPLIED.label)
    )

    # then: the missing asset waits for approval of its loss, the moved one is in room 102
    lost = Asset.objects.get(tag=missing)
    approval = ApprovalRequest.objects.get(asset=lost)
    assert (approval.transition, approval.state) == ("report_lost", "pending")
    moved_asset = Asset.objects.get(tag=moved)
    assert (moved_asset.location, moved_asset.holder, moved_asset.status) == (
        room102,
        holder,
        "in_use",
    )
    assert AssetEvent.objects.filter(asset=moved_asset, transition="transfer").count() == 1
    assert set(Asset.objects.filter(tag__in=in_place).values_list("location", flat=True)) == {
        room101.pk
    }
    lines = dict(StocktakeExpected.objects.values_list("tag", "result"))
    assert lines == {
        in_place[0]: "found",
        in_place[1]: "found",
        in_place[2]: "found",
        moved: "location_mismatch",
        missing: "missing",
    }
