"""Lifecycle transitions in a browser: a button on the asset page loads the transition's form
as a modal <dialog>; an invalid form stays in the dialog with its errors; a valid one closes
it and swaps the asset page (status badge, timeline with the handover receipt link)."""

from playwright.sync_api import expect

from assets.lifecycle import Status
from assets.models import Asset
from assets.tests.factories import AssetFactory, PersonFactory


def test_clerk_assigns_an_asset_in_the_dialog(page, login, screenshots):
    # given
    clerk = login(page, "clerk")
    person = PersonFactory(name="张三")
    asset = AssetFactory(name="笔记本电脑")
    page.goto(asset.get_absolute_url())
    # when: open the dialog and submit it empty
    page.get_by_test_id("transition-assign").click()
    dialog = page.locator("dialog#transition-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.matches(':modal')")
    dialog.get_by_test_id("submit-transition").click()
    # then: the errors show in the dialog
    expect(dialog.locator(".invalid-feedback")).to_be_visible()
    # when: choose the person and submit
    dialog.locator("select[name=holder]").select_option(str(person.pk))
    dialog.locator("textarea[name=note]").fill("入职领用")
    page.screenshot(path=screenshots / "transition-dialog.png")
    dialog.get_by_test_id("submit-transition").click()
    # then: the dialog is gone and the page shows the new state and the receipt
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.get_by_test_id("asset-status")).to_have_text(
        str(Asset.objects.get(pk=asset.pk).get_status_display())
    )
    expect(page.get_by_test_id("event-assign")).to_contain_text("入职领用")
    expect(page.get_by_test_id("handover-link")).to_be_visible()
    expect(page.locator("#messages .alert-success")).to_be_visible()
    page.screenshot(path=screenshots / "asset-after-assign.png", full_page=True)
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.updated_by) == (Status.IN_USE, person, clerk)


def test_clerk_assigns_two_selected_assets_from_the_list(page, login):
    # given
    login(page, "clerk")
    person = PersonFactory(name="李四")
    first, second = AssetFactory(), AssetFactory()
    page.goto("/assets/")
    # when: select both, "Assign", choose the person, confirm
    page.locator(f'input[name="tags"][value="{first.tag}"]').check()
    page.locator(f'input[name="tags"][value="{second.tag}"]').check()
    page.get_by_test_id("bulk-assign").click()
    form = page.get_by_test_id("bulk-form")
    expect(page.get_by_test_id("bulk-assets")).to_contain_text(first.tag)
    form.locator("select[name=holder]").select_option(str(person.pk))
    form.get_by_test_id("submit-bulk").click()
    # then: back on the list with a message; both assigned
    expect(page.locator("#messages .alert-success")).to_be_visible()
    assert set(Asset.objects.values_list("status", "holder")) == {(Status.IN_USE, person.pk)}
