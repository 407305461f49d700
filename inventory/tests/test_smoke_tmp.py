from decimal import Decimal as D

from inventory import services
from inventory.models import Document

from .conftest import balance, ledger


def test_receipt_then_issue(keeper, warehouse, item, person):
    r = services.document_create(actor=keeper, type="receipt", warehouse=warehouse,
        lines=[{"item": item, "quantity": "10", "unit_cost": "12.50"}])
    res = services.document_post(document=r, actor=keeper)
    assert res.posted, res
    print(res)
    i = services.document_create_and_post(actor=keeper, type="issue", warehouse=warehouse, person=person,
        lines=[{"barcode": "6901234567892", "quantity": 3}])
    print(i)
    assert balance(item, warehouse) == (D("7"), D("87.50"), D("12.5"))
    print(ledger(item, warehouse))
    print(list(Document.objects.values_list("number", "status")))
