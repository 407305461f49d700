"""Issue 4's journey in a browser, each person in a browser of their own: an employee asks for
a laptop (申领), the department head approves, an asset clerk assigns an in-stock laptop and
prints the handover receipt, the employee confirms receipt in 我的资产 and reports a fault,
the clerk sends it to repair and gets it back repaired, the employee asks to return it and
the clerk takes it back, the clerk requests its disposal, it is approved, and the clerk
disposes of it with a certificate. The asset's timeline then shows every step and who took
it. Files (handover receipt, certificate) go to S3 (the local ``weed`` server)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from assets.lifecycle import Status
from assets.models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetRequest,
    Attachment,
    Handover,
    RepairOrder,
)
from assets.tests.factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    SupplierFactory,
)

PASSWORD = "Passw0rd!2026"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def zh(label) -> str:
    """A label (lazy or a plain msgid) as the pages show it (zh-hans)."""
    with translation.override("zh-hans"):
        return translation.gettext(label) if isinstance(label, str) else str(label)


def sign_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def run_transition(page, name: str, fill) -> None:
    """Open a transition's dialog on the asset page, fill it, submit, wait until it closed."""
    page.get_by_test_id(f"transition-{name}").click()
    dialog = page.get_by_test_id("transition-dialog")
    expect(dialog).to_be_visible()
    fill(dialog)
    dialog.get_by_test_id("submit-transition").click()
    expect(page.locator("dialog")).to_have_count(0)


def decide(page, testid: str, comment: str) -> None:
    """Open the first decision dialog of a queue and approve."""
    page.get_by_test_id(testid).first.click()
    dialog = page.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=comment]").fill(comment)
    dialog.get_by_test_id("approve").click()
    expect(page.locator("dialog")).to_have_count(0)


def test_a_laptop_from_request_to_disposal(make_page, make_user, s3_storage, screenshots):
    # given: 研发中心 (head 王主任, employee 张三), two asset clerks, laptops in stock
    rd = DepartmentFactory(name="研发中心")
    employee = make_user("employee", first_name="张三")
    head = make_user("dept_head", first_name="王主任")
    clerk = make_user("clerk", first_name="李管理")
    approver = make_user("clerk", first_name="周审批")
    zhang = PersonFactory(user=employee, department=rd, name="张三")
    rd.head = PersonFactory(user=head, department=rd, name="王主任")
    rd.save(update_fields=["head"])
    laptops = CategoryFactory(parent=CategoryFactory(name="计算机设备"), name="笔记本电脑")
    warehouse = LocationFactory(warehouse=True, name="一号仓库")
    model = AssetModelFactory(category=laptops, name="ThinkPad T14")
    laptop = AssetFactory(model=model, location=warehouse, serial_number="PF-T14-0001")
    AssetFactory(model=model, location=warehouse, serial_number="PF-T14-0002")
    vendor = SupplierFactory(name="联想授权服务站")
    pages = {}
    for who, user in (("employee", employee), ("head", head), ("clerk", clerk)):
        pages[who] = make_page()
        sign_in(pages[who], user)
    me, boss, desk = pages["employee"], pages["head"], pages["clerk"]

    # 1. the employee requests a laptop (申领)
    me.goto(reverse("me:requests"))
    with me.expect_response(lambda r: reverse("me:model_options") in r.url):
        me.select_option("#id_category", str(laptops.pk))
    me.fill("#id_reason", "新项目开发用机")
    me.fill("#id_needed_by", (timezone.localdate() + timedelta(days=7)).isoformat())
    me.get_by_test_id("submit-request").click()
    mine = me.get_by_test_id("my-request")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("request-state")).to_have_text(
        zh(AssetRequest.State.SUBMITTED.label)
    )

    # 2. the department head approves it
    boss.goto(reverse("requests:list"))
    expect(boss.get_by_test_id("to-decide")).to_contain_text("张三")
    decide(boss, "decide-request", "同意，尽快配发")
    expect(boss.get_by_test_id("to-decide")).to_have_count(0)

    # 3. the clerk fulfils it with the in-stock laptop, then opens the handover receipt
    desk.goto(reverse("requests:list"))
    desk.get_by_test_id("fulfil-request").click()
    dialog = desk.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=asset]").select_option(str(laptop.pk))
    dialog.get_by_test_id("submit").click()
    expect(desk.locator("dialog")).to_have_count(0)
    expect(desk.get_by_test_id("to-fulfil")).to_have_count(0)
    desk.goto(laptop.get_absolute_url())
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.IN_USE.label))
    receipt = desk.get_by_test_id("event-assign").get_by_test_id("handover-link")
    expect(receipt).to_be_visible()
    pdf = desk.request.get(receipt.get_attribute("href"))  # follows the presigned redirect
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    desk.screenshot(path=screenshots / "lifecycle-assigned.png", full_page=True)

    # 4. the employee confirms receipt in 我的资产
    me.goto(reverse("me:assets"))
    expect(me.get_by_test_id("handover-row")).to_contain_text(laptop.tag)
    me.get_by_test_id("accept-handover").click()
    expect(me.get_by_test_id("pending-handovers")).to_have_count(0)
    expect(me.locator("#messages .alert-success")).to_be_visible()

    # 5. the employee reports a fault
    row = me.locator(f'[data-testid="my-asset"][data-tag="{laptop.tag}"]')
    row.get_by_test_id("report-fault").click()
    dialog = me.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=fault]").fill("屏幕无法点亮")
    dialog.get_by_test_id("submit").click()
    expect(row.get_by_test_id("fault-reported")).to_be_visible()
    me.screenshot(path=screenshots / "lifecycle-my-assets.png", full_page=True)
    order = RepairOrder.objects.get(asset=laptop)

    # 6. the clerk sends it to repair (taking over the report) and gets it back repaired
    desk.goto(laptop.get_absolute_url())

    def send(dialog):
        dialog.locator("select[name=repair_order]").select_option(str(order.pk))
        dialog.locator("select[name=vendor]").select_option(str(vendor.pk))
        dialog.locator("input[name=expected_cost]").fill("300")

    run_transition(desk, "send_to_repair", send)
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.IN_REPAIR.label))

    def repaired(dialog):
        dialog.locator("input[name=actual_cost]").fill("280")
        dialog.locator("textarea[name=result]").fill("更换屏幕排线")

    run_transition(desk, "repair_done", repaired)
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.IN_USE.label))
    expect(desk.get_by_test_id("repair-total")).to_have_text("280.00")

    # 7. the employee asks to return it; the clerk sees the request and takes it back
    me.goto(reverse("me:assets"))
    row.get_by_test_id("request-return").click()
    dialog = me.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=note]").fill("项目结束，归还")
    dialog.get_by_test_id("submit").click()
    expect(row.get_by_test_id("return-requested")).to_be_visible()
    desk.goto(reverse("assets:unconfirmed"))
    desk.get_by_test_id("return-row").get_by_role("link", name=laptop.tag).click()
    expect(desk.get_by_test_id("asset-tag")).to_have_text(laptop.tag)

    def returned(dialog):
        dialog.locator("select[name=location]").select_option(str(warehouse.pk))
        dialog.locator("textarea[name=condition]").fill("完好")

    run_transition(desk, "return", returned)
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.IN_STOCK.label))

    # 8. the clerk requests its disposal
    run_transition(
        desk,
        "request_disposal",
        lambda d: d.locator("textarea[name=reason]").fill("电池老化，维修不经济"),
    )
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.PENDING_DISPOSAL.label))
    expect(desk.get_by_test_id("transition-dispose")).to_have_count(0)  # not before approval
    approval = ApprovalRequest.objects.get(asset=laptop)

    # 9. the approvals. Back in stock the laptop has no using department, so the approvals
    #    service records the department-head step as skipped (研发中心's head does not see it)
    #    and another asset clerk decides.
    Decision = ApprovalStep.Decision
    assert list(approval.steps.order_by("number").values_list("role", "decision")) == [
        ("dept_head", Decision.SKIPPED),
        ("clerk", Decision.PENDING),
    ]
    boss.goto(reverse("approvals:list"))
    expect(boss.get_by_test_id("approval-row")).to_have_count(0)
    checker = make_page()
    sign_in(checker, approver)
    checker.goto(reverse("approvals:list"))
    expect(checker.get_by_test_id("approval-row")).to_contain_text(laptop.tag)
    decide(checker, "decide", "同意报废")
    expect(checker.get_by_test_id("approval-row")).to_have_count(0)
    checker.screenshot(path=screenshots / "lifecycle-approved.png", full_page=True)
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.APPROVED

    # 10. the clerk disposes of it with the recycler's certificate
    desk.reload()

    def dispose(dialog):
        dialog.locator("select[name=method]").select_option("recycling")
        dialog.locator("input[name=certificate]").set_input_files(
            files=[{"name": "回收证明.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )

    run_transition(desk, "dispose", dispose)
    expect(desk.get_by_test_id("asset-status")).to_have_text(zh(Status.DISPOSED.label))

    # then: the timeline shows every step, newest first, with who took it
    timeline = desk.get_by_test_id("lifecycle").locator("> li")
    expected = [
        ("dispose", "李管理"),
        ("request_disposal", "李管理"),
        ("return", "李管理"),
        ("return_requested", "张三"),
        ("repair_done", "李管理"),
        ("send_to_repair", "李管理"),
        ("assign", "李管理"),
    ]
    expect(timeline).to_have_count(len(expected))
    for n, (transition, actor) in enumerate(expected):
        entry = timeline.nth(n)
        expect(entry).to_have_attribute("data-testid", f"event-{transition}")
        expect(entry).to_contain_text(actor)
    expect(timeline.nth(0)).to_contain_text("回收证明.pdf")  # the certificate
    expect(timeline.nth(1)).to_contain_text("周审批")  # who approved the disposal
    expect(timeline.nth(3)).to_contain_text("项目结束，归还")
    expect(timeline.nth(5)).to_contain_text("屏幕无法点亮")  # the fault 张三 reported
    expect(timeline.nth(5)).to_contain_text("联想授权服务站")
    expect(timeline.nth(6)).to_contain_text("王主任")  # who approved the request
    expect(timeline.nth(6)).to_contain_text("张三")  # the new user
    expect(timeline.nth(6)).to_contain_text(zh("receipt confirmed"))
    desk.screenshot(path=screenshots / "lifecycle-timeline.png", full_page=True)

    laptop.refresh_from_db()
    assert (laptop.status, laptop.holder, laptop.department) == (Status.DISPOSED, None, None)
    assert Handover.objects.get(transition="assign").accepted_by == employee
    assert AssetRequest.objects.get().state == AssetRequest.State.FULFILLED
    certificate = Attachment.objects.get(asset=laptop, original_name="回收证明.pdf")
    assert certificate.content_type == "application/pdf"
    assert s3_storage.client().head_object(Bucket=s3_storage.bucket, Key=certificate.file.name)
    assert zhang.pk == AssetRequest.objects.get().requester_id
    assert Asset.objects.filter(status=Status.IN_STOCK).count() == 1  # the other laptop
