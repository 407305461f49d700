"""GetByPk: queryset.get(pk=…) compiled once, giving the same instances as the ORM."""

import pytest

from assets.tests.factories import PersonFactory
from inventory.models import Warehouse
from inventory.tests.factories import WarehouseFactory
from itassets.auth import _user_queryset
from itassets.precompiled import GetByPk

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {k: v for k, v in vars(obj).items() if k != "_state"}


def test_the_same_instance_as_get_with_related_objects_and_annotations(make_user):
    user = make_user("clerk")
    person = PersonFactory(user=user)
    lookup = GetByPk(_user_queryset())
    for _ in range(2):  # compiled on the first call, reused on the second
        loaded = lookup.get(user.pk)
        expected = _user_queryset().get(pk=user.pk)
        assert _fields(loaded) == _fields(expected)
        assert loaded.person == person
        assert _fields(loaded.person) == _fields(expected.person)
        assert not loaded._state.adding and loaded._state.db == "default"


def test_select_related_objects_are_converted_like_the_orm():
    warehouse = WarehouseFactory()
    loaded = GetByPk(Warehouse.objects.select_related("location")).get(str(warehouse.pk))
    assert loaded.location.is_warehouse is True
    assert _fields(loaded.location) == _fields(
        Warehouse.objects.select_related("location").get(pk=warehouse.pk).location
    )


def test_an_unknown_key_is_none_and_a_malformed_one_fails_like_the_orm():
    lookup = GetByPk(Warehouse.objects.all())
    assert lookup.get(987654) is None
    for bad in ("1x", [1], object()):
        with pytest.raises((ValueError, TypeError)):
            lookup.get(bad)
