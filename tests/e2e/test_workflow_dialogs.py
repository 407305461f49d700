"""The approval and self-service dialogs in a browser: htmx loads a <dialog>, it opens as a
modal, a decision posts from it, the dialog disappears and the queue is swapped."""

from playwright.sync_api import expect

from assets.lifecycle import Status
from assets.models import ApprovalStep, RepairOrder
from assets.services import approval_request
from assets.tests.org import make_org


def _login(page, user, password="Passw0rd!2026"):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_head_approves_a_disposal_in_the_dialog(page, make_user, screenshots):
    # given
    org = make_org(make_user)
    asset = org.asset()
    approval = approval_request(
        asset=asset, transition="request_disposal", actor=org.clerk, reason="屏幕损坏"
    )
    _login(page, org.head)
    page.goto("/approvals/")
    # when
    page.get_by_test_id("decide").click()
    dialog = page.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("屏幕损坏")
    assert dialog.evaluate("d => d.matches(':modal')")
    page.screenshot(path=screenshots / "approval-dialog.png")
    dialog.locator("textarea[name=comment]").fill("同意")
    dialog.get_by_test_id("approve").click()
    # then
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.get_by_test_id("approval-row")).to_have_count(0)
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    expect(page.locator("#messages .alert-success")).to_be_visible()
    step = approval.steps.get(number=1)
    assert (step.decision, step.comment) == (ApprovalStep.Decision.APPROVED, "同意")


def test_employee_reports_a_fault_from_my_assets(page, make_user):
    # given
    org = make_org(make_user)
    asset = org.asset(status=Status.IN_USE, holder=org.employee_person)
    _login(page, org.employee)
    page.goto("/me/assets/")
    # when: an empty report is refused in the dialog, then a real one goes through
    page.get_by_test_id("report-fault").click()
    dialog = page.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("submit").click()
    expect(dialog.locator(".invalid-feedback")).to_be_visible()
    dialog.locator("textarea[name=fault]").fill("无法开机")
    dialog.get_by_test_id("submit").click()
    # then
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.get_by_test_id("fault-reported")).to_be_visible()
    assert RepairOrder.objects.get().asset_id == asset.pk
