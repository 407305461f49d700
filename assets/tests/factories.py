"""factory_boy factories for the register: one per model, traits per status.

Tree nodes (Department, Location, Category) are created through treebeard
(``objects.add_root`` / ``objects.add_child``): pass ``parent=`` for a child node.
"""

from decimal import Decimal

import factory
from django.utils import timezone

from assets.lifecycle import Status
from assets.models import (
    Asset,
    AssetModel,
    Attachment,
    Category,
    CustomField,
    Department,
    Location,
    Manufacturer,
    Person,
    Supplier,
)


class TreeNodeFactory(factory.django.DjangoModelFactory):
    """Creates a root node, or a child of ``parent``."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is not None:
            return model_class.objects.add_child(parent, kwargs)
        return model_class.objects.add_root(kwargs)


class DepartmentFactory(TreeNodeFactory):
    class Meta:
        model = Department

    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"部门{n}")


class LocationFactory(TreeNodeFactory):
    class Meta:
        model = Location

    code = factory.Sequence(lambda n: f"L{n:04d}")
    name = factory.Sequence(lambda n: f"房间{n}")
    kind = Location.Kind.ROOM

    class Params:
        warehouse = factory.Trait(is_warehouse=True, name=factory.Sequence(lambda n: f"仓库{n}"))


class CategoryFactory(TreeNodeFactory):
    class Meta:
        model = Category

    code = factory.Sequence(lambda n: f"C{n:04d}")
    name = factory.Sequence(lambda n: f"分类{n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    category = factory.SubFactory(CategoryFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"字段{n}")
    field_type = CustomField.Type.TEXT


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    employee_no = factory.Sequence(lambda n: f"E{n:05d}")
    name = factory.Sequence(lambda n: f"员工{n}")
    department = factory.SubFactory(DepartmentFactory)


class ManufacturerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Manufacturer
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"厂商{n}")


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"供应商{n}")


class AssetModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssetModel

    category = factory.SubFactory(CategoryFactory)
    manufacturer = factory.SubFactory(ManufacturerFactory)
    name = factory.Sequence(lambda n: f"型号{n}")
    model_number = factory.Sequence(lambda n: f"MN-{n:05d}")


class AssetFactory(factory.django.DjangoModelFactory):
    """An asset saved directly (no service): fast fixtures for reads. Traits per status."""

    class Meta:
        model = Asset

    tag = factory.Sequence(lambda n: f"T-{timezone.now():%Y}-{n:06d}")
    model = factory.SubFactory(AssetModelFactory)
    category = factory.SelfAttribute("model.category")
    manufacturer = factory.SelfAttribute("model.manufacturer")
    name = factory.LazyAttribute(lambda o: o.model.name)
    cost = Decimal("5999.00")
    status = Status.IN_STOCK

    class Params:
        ordered = factory.Trait(status=Status.ORDERED)
        assigned = factory.Trait(status=Status.IN_USE)
        on_loan = factory.Trait(status=Status.ON_LOAN)
        in_repair = factory.Trait(status=Status.IN_REPAIR)
        pending_disposal = factory.Trait(status=Status.PENDING_DISPOSAL)
        disposed = factory.Trait(status=Status.DISPOSED)
        lost = factory.Trait(status=Status.LOST)


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    asset = factory.SubFactory(AssetFactory)
    kind = Attachment.Kind.PHOTO
    file = factory.django.FileField(filename="photo.jpg", data=b"\xff\xd8\xff\xe0fake")
    original_name = "photo.jpg"
    content_type = "image/jpeg"
    size = 8
    sha256 = "0" * 64


class RepairOrderFactory(factory.django.DjangoModelFactory):
    """A repair order; traits per state (``reported`` is the model default)."""

    class Meta:
        model = "assets.RepairOrder"

    number = factory.Sequence(lambda n: f"WX-TEST-{n:05d}")
    asset = factory.SubFactory(AssetFactory)
    fault = "屏幕闪烁"

    class Params:
        in_repair = factory.Trait(state="in_repair", previous_status=Status.IN_USE)
        done = factory.Trait(state="done", actual_cost=Decimal("300.00"))
        failed = factory.Trait(state="failed")


class ApprovalRequestFactory(factory.django.DjangoModelFactory):
    """An approval request (rows only: the approvals service plans the steps)."""

    class Meta:
        model = "assets.ApprovalRequest"

    asset = factory.SubFactory(AssetFactory)
    transition = "request_disposal"
    previous_status = Status.IN_STOCK

    class Params:
        approved = factory.Trait(state="approved")
        rejected = factory.Trait(state="rejected")
