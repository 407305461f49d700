"""The audit user columns (Asset.created_by/updated_by, AssetEvent.actor) have no database
index or constraint (issue 8): deleting a user still nulls them, and pages still show them."""

import pytest
from django.urls import reverse
from django.utils.translation import gettext

from assets.lifecycle import Status
from assets.models import Asset, AssetEvent
from assets.services import asset_create
from assets.views.lifecycle import asset_timeline

from .factories import AssetModelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "field",
    [
        Asset._meta.get_field("created_by"),
        Asset._meta.get_field("updated_by"),
        AssetEvent._meta.get_field("actor"),
    ],
)
def test_audit_user_columns_have_no_index_or_constraint(field):
    assert (field.db_index, field.db_constraint) == (False, False)


def test_deleting_a_user_nulls_the_audit_columns_and_keeps_the_records(make_user):
    # given
    author = make_user("clerk")
    asset = asset_create(actor=author, model=AssetModelFactory(), data={})
    event = AssetEvent.objects.create(
        asset=asset, transition="import", to_status=Status.IN_STOCK, actor=author
    )
    other = asset_create(actor=make_user("clerk"), model=AssetModelFactory(), data={})
    # when
    author.delete()
    # then
    asset.refresh_from_db()
    event.refresh_from_db()
    other.refresh_from_db()
    assert (asset.created_by_id, asset.updated_by_id, event.actor_id) == (None, None, None)
    assert other.created_by_id is not None and other.created_by_id == other.updated_by_id


def test_detail_page_shows_the_creator_and_tolerates_an_id_without_a_user(client_as, make_user):
    # given
    author = make_user("clerk", first_name="Ada")
    asset = asset_create(actor=author, model=AssetModelFactory(), data={})
    client = client_as("clerk")
    url = reverse("assets:detail", args=[asset.tag])
    # when
    shown = client.get(url)
    Asset.objects.filter(pk=asset.pk).update(created_by_id=author.pk + 1000)
    AssetEvent.objects.create(
        asset=asset, transition="import", to_status=Status.IN_STOCK, actor_id=author.pk + 1000
    )
    dangling = client.get(url)
    # then
    assert shown.status_code == 200 and "Ada" in shown.content.decode()
    assert dangling.status_code == 200
    assert [e.actor_label for e in asset_timeline(asset=asset, user=client.user)] == [
        gettext("System")
    ]
