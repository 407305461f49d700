"""Issue 5's journey in a browser, each person in a browser of their own: the keeper receives
10 boxes of toner (scanning its barcode into a new receipt), an employee requests 2 on
/me/requisitions/ (the barcode typed into the item box), the department head approves, the
keeper issues them by scanning the barcode twice into the fulfilment's barcode box (typing
the barcode + Enter, as a wedge scanner does), the item page shows 8 on hand at the receipt's
average cost, and the low-stock page lists the toner once, under its safety stock."""

from decimal import Decimal as D

from django.utils import translation
from playwright.sync_api import expect

from assets.tests.factories import DepartmentFactory, PersonFactory, SupplierFactory
from inventory.models import Document, Requisition, Stock
from inventory.tests.factories import ItemFactory, WarehouseFactory

PASSWORD = "Passw0rd!2026"
BARCODE = "6901234500011"


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


def scan(page, testid: str, code: str) -> None:
    """What a wedge scanner does: type the barcode into the focused box, then Enter."""
    box = page.get_by_test_id(testid)
    box.click()
    box.press_sequentially(code)
    box.press("Enter")


def test_toner_received_requested_approved_issued_by_scanning(make_page, make_user, screenshots):
    # given: 研发中心 (head 王主任, employee 张三), a keeper of 总仓库, toner with a safety
    # stock of 10 boxes (reorder up to 20), none in stock yet
    rd = DepartmentFactory(name="研发中心")
    employee = make_user("employee", first_name="张三")
    head = make_user("dept_head", first_name="王主任")
    keeper = make_user("keeper", first_name="刘库管")
    zhang = PersonFactory(user=employee, department=rd, name="张三")
    rd.head = PersonFactory(user=head, department=rd, name="王主任")
    rd.save(update_fields=["head"])
    warehouse = WarehouseFactory(keepers=[keeper], location__name="总仓库")
    SupplierFactory(name="京东企业购")
    toner = ItemFactory(
        code="TONER-HP-26A",
        name="硒鼓",
        spec="HP CF226A 黑色",
        unit="盒",
        barcode=BARCODE,
        safety_stock=D("10"),
        max_stock=D("20"),
    )
    keeper_page = make_page()
    employee_page = make_page()
    head_page = make_page()
    sign_in(keeper_page, keeper)
    sign_in(employee_page, employee)
    sign_in(head_page, head)

    # when: the keeper receives 10 boxes at 385.00 (scan, then the quantity and the price)
    keeper_page.goto("/inventory/documents/new/receipt/")
    scan(keeper_page, "scan-input", BARCODE)
    row = keeper_page.locator(f"[data-testid=line-row][data-item='{toner.pk}']")
    expect(row).to_have_count(1)
    keeper_page.wait_for_load_state("networkidle")  # no line refresh still on its way
    row.get_by_test_id("line-quantity").fill("10")
    row.locator("input[name=line_unit_cost]").fill("385.00")
    keeper_page.get_by_test_id("save-post").click()
    expect(keeper_page.get_by_test_id("document-status")).to_have_text(
        zh(Document.Status.POSTED.label)
    )
    receipt = Document.objects.get(type="receipt")
    assert Stock.objects.get(item=toner, warehouse=warehouse).quantity == D("10")

    # when: the employee asks for 2 (the barcode in the item box adds the toner)
    employee_page.goto("/me/requisitions/")
    scan(employee_page, "item-search", BARCODE)
    line = employee_page.locator("[data-testid=request-line][data-item='TONER-HP-26A']")
    expect(line).to_have_count(1)
    line.get_by_test_id("line-quantity").fill("2")
    employee_page.locator("#requisition-form textarea[name=reason]").fill("打印机换硒鼓")
    employee_page.get_by_test_id("submit-requisition").click()
    mine = employee_page.get_by_test_id("my-requisition")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("requisition-state")).to_have_text(
        zh(Requisition.State.SUBMITTED.label)
    )
    requisition = Requisition.objects.get()
    assert requisition.requester == zhang

    # when: the department head approves it
    head_page.goto("/inventory/requisitions/approvals/")
    head_page.locator(f"[data-requisition='{requisition.pk}']").get_by_test_id("decide").click()
    dialog = head_page.locator("dialog#workflow-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=comment]").fill("同意")
    dialog.get_by_test_id("approve").click()
    expect(head_page.locator("dialog")).to_have_count(0)
    expect(head_page.get_by_test_id("approval-row")).to_have_count(0)

    # when: the keeper opens it from the queue and scans the toner twice
    keeper_page.goto("/inventory/requisitions/")
    keeper_page.locator(
        f"[data-testid=queue-row][data-requisition='{requisition.pk}']"
    ).get_by_test_id("fulfil").click()
    quantity = keeper_page.locator(
        "[data-testid=fulfil-line][data-item='TONER-HP-26A'] [data-testid=issue-quantity]"
    )
    expect(quantity).to_have_value("")
    scan(keeper_page, "scan", BARCODE)
    expect(quantity).to_have_value("1")
    scan(keeper_page, "scan", BARCODE)
    expect(quantity).to_have_value("2")
    # a third scan would be more than was approved: refused, nothing changed
    scan(keeper_page, "scan", BARCODE)
    expect(keeper_page.get_by_test_id("fulfil-error")).to_be_visible()
    expect(quantity).to_have_value("2")
    keeper_page.get_by_test_id("issue").click()

    # then: the requisition is fully issued by one posted issue document
    expect(keeper_page.get_by_test_id("requisition-state")).to_have_text(
        zh(Requisition.State.FULLY_ISSUED.label)
    )
    issue = Document.objects.get(type="issue")
    expect(keeper_page.get_by_test_id("requisition-documents")).to_contain_text(issue.number)
    assert (issue.status, issue.requisition_id, issue.person_id) == (
        "posted",
        requisition.pk,
        zhang.pk,
    )

    # and the employee sees it issued
    employee_page.reload()
    expect(employee_page.get_by_test_id("requisition-state")).to_have_text(
        zh(Requisition.State.FULLY_ISSUED.label)
    )

    # then: the item page shows 8 on hand at the receipt's average cost
    keeper_page.goto(f"/inventory/items/{toner.pk}/")
    expect(keeper_page.get_by_test_id("on-hand")).to_have_text("8")
    expect(keeper_page.get_by_test_id("average-cost")).to_have_text("385.0000")
    expect(keeper_page.get_by_test_id("stock-value")).to_have_text("3,080.00")
    ledger = keeper_page.get_by_test_id("ledger-table")
    expect(ledger).to_contain_text(receipt.number)
    expect(ledger).to_contain_text(issue.number)

    # and the low-stock page lists the toner once (8 < 10), reorder up to 20
    keeper_page.goto("/inventory/low-stock/")
    rows = keeper_page.get_by_test_id("low-stock-row").filter(has_text="TONER-HP-26A")
    expect(rows).to_have_count(1)
    expect(rows.get_by_test_id("suggested")).to_contain_text("12")
    keeper_page.screenshot(path=screenshots / "inventory-low-stock.png", full_page=True)
