"""factory_boy factories for the inventory app: one per model, traits per status.

Documents are posted through the service (``document_post``), never by writing ``status``:
``DocumentFactory(lines=[(item, 10, "12.50")], posted=True)``. Lines are ``(item, quantity)``
or ``(item, quantity, unit_cost)`` tuples, or mappings as ``document_create`` takes them.
"""

from decimal import Decimal

import factory

from assets.tests.factories import (
    LocationFactory,
    PersonFactory,
    SupplierFactory,
    TreeNodeFactory,
)
from inventory import services
from inventory.models import (
    TYPE_DIRECTION,
    Direction,
    Document,
    DocumentLine,
    DocumentType,
    Item,
    ItemCategory,
    Requisition,
    RequisitionLine,
    Warehouse,
)


class ItemCategoryFactory(TreeNodeFactory):
    class Meta:
        model = ItemCategory

    code = factory.Sequence(lambda n: f"IC{n:04d}")
    name = factory.Sequence(lambda n: f"物料分类{n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    code = factory.Sequence(lambda n: f"ITEM-{n:05d}")
    name = factory.Sequence(lambda n: f"硒鼓{n}")
    spec = "HP 26A"
    unit = "盒"
    barcode = factory.Sequence(lambda n: f"690{n:010d}")
    safety_stock = Decimal("0")
    max_stock = Decimal("0")

    class Params:
        by_metre = factory.Trait(
            name=factory.Sequence(lambda n: f"网线{n}"), unit="米", quantity_decimals=1
        )
        inactive = factory.Trait(is_active=False)


class WarehouseFactory(factory.django.DjangoModelFactory):
    """A warehouse on a new location flagged ``is_warehouse``; ``keepers=[user, ...]``."""

    class Meta:
        model = Warehouse
        skip_postgeneration_save = True

    location = factory.SubFactory(LocationFactory, warehouse=True)

    @factory.post_generation
    def keepers(self, create, extracted, **kwargs):
        if create and extracted:
            self.keepers.add(*extracted)


def _line(document, spec) -> DocumentLine:
    if isinstance(spec, DocumentLine):
        return spec
    if isinstance(spec, dict):
        data = dict(spec)
    else:
        item, quantity, *rest = spec
        data = {"item": item, "quantity": quantity, "unit_cost": rest[0] if rest else None}
    direction = data.get("direction") or TYPE_DIRECTION[document.type] or Direction.IN
    quantity = Decimal(str(data["quantity"]))
    unit_cost = data.get("unit_cost")
    unit_cost = Decimal(str(unit_cost)) if unit_cost is not None else None
    amount = services.money(quantity * unit_cost) if unit_cost is not None else None
    return DocumentLine(
        document=document,
        item=data["item"],
        warehouse=document.warehouse,
        to_warehouse=document.to_warehouse if document.type == DocumentType.TRANSFER else None,
        direction=direction,
        quantity=quantity,
        unit_cost=unit_cost if direction == Direction.IN else None,
        amount=amount if direction == Direction.IN else None,
    )


class DocumentFactory(factory.django.DjangoModelFactory):
    """A draft receipt unless told otherwise; ``posted=True`` posts it with the service."""

    class Meta:
        model = Document
        skip_postgeneration_save = True

    type = DocumentType.RECEIPT
    warehouse = factory.SubFactory(WarehouseFactory)

    class Params:
        issue = factory.Trait(type=DocumentType.ISSUE, person=factory.SubFactory(PersonFactory))
        receipt = factory.Trait(
            type=DocumentType.RECEIPT, supplier=factory.SubFactory(SupplierFactory)
        )
        transfer = factory.Trait(
            type=DocumentType.TRANSFER, to_warehouse=factory.SubFactory(WarehouseFactory)
        )

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        if create and extracted:
            DocumentLine.objects.bulk_create([_line(self, spec) for spec in extracted])

    @factory.post_generation
    def posted(self, create, extracted, **kwargs):
        if create and extracted:
            services.document_post(document=self, actor=None)


class RequisitionFactory(factory.django.DjangoModelFactory):
    """A submitted requisition; ``lines=[(item, quantity), ...]``; trait ``approved``."""

    class Meta:
        model = Requisition
        skip_postgeneration_save = True

    requester = factory.SubFactory(PersonFactory)
    department = factory.SelfAttribute("requester.department")
    reason = "日常办公"

    class Params:
        approved = factory.Trait(state=Requisition.State.APPROVED)
        rejected = factory.Trait(state=Requisition.State.REJECTED)
        cancelled = factory.Trait(state=Requisition.State.CANCELLED)

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        if create and extracted:
            RequisitionLine.objects.bulk_create(
                RequisitionLine(requisition=self, item=item, quantity=Decimal(str(quantity)))
                for item, quantity in extracted
            )
