"""What one detail page costs, and its QR code served as an image of its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.qr import asset_url, qr_svg_image
from assets.services import asset_create, asset_update
from assets.views.detail import HISTORY_ON_PAGE

from .factories import AssetFactory, AssetModelFactory, DepartmentFactory, PersonFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_detail_page_shows_the_qr_code_as_an_image(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    body = client.get(reverse("assets:detail", args=[asset.tag])).content.decode()
    # then: the image, and the address it encodes as text
    assert f'<img class="asset-qr" src="{reverse("assets:qr", args=[asset.tag])}"' in body
    assert asset_url(asset.tag) in body


def test_qr_image_is_the_svg_of_the_detail_address_and_browsers_keep_it(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    response = client.get(reverse("assets:qr", args=[asset.tag]))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert set(response["Cache-Control"].split(", ")) == {"private", "max-age=86400"}
    assert response.content == qr_svg_image(asset.tag)
    assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox=')


def test_qr_image_of_an_asset_outside_the_users_scope_is_not_found(client_as):
    # given: an employee guessing the tag of another department's asset
    client = client_as("employee")
    PersonFactory(user=client.user)
    other = AssetFactory(department=DepartmentFactory())
    # when
    response = client.get(reverse("assets:qr", args=[other.tag]))
    # then
    assert response.status_code == 404


def test_qr_image_of_the_employees_own_asset(client_as):
    client = client_as("employee")
    mine = AssetFactory(holder=PersonFactory(user=client.user))
    assert client.get(reverse("assets:qr", args=[mine.tag])).status_code == 200


def test_qr_image_needs_a_login(client):
    asset = AssetFactory()
    response = client.get(reverse("assets:qr", args=[asset.tag]))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def _queries(client, url, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx fragment"])
def test_detail_page_query_count(client_as, headers):
    # given: a clerk (sessions come from the cache: no session query)
    client = client_as("clerk")
    asset = AssetFactory(holder=PersonFactory())
    url = reverse("assets:detail", args=[asset.tag])
    client.get(url)
    # when
    queries = _queries(client, url, **headers)
    # then: the user with roles and person, the asset with its relations, the category's
    # custom fields, attachments, permissions (one UNION), history, repair totals, events
    assert len(queries) == 8, "\n".join(queries)
    assert sum("auth_user" in q and "auth_user_groups" in q for q in queries[:1]) == 1


def _edited(user, times: int):
    model = AssetModelFactory()
    asset = asset_create(actor=user, model=model, data={})
    for i in range(times):
        asset = asset_update(actor=user, asset=asset, model=model, data={"name": f"名称{i}"})
    return asset


def test_detail_shows_the_latest_history_and_a_link_to_the_rest(client_as):
    # given: created, then edited 25 times (26 entries)
    client = client_as("clerk")
    asset = _edited(client.user, 25)
    url = reverse("assets:detail", args=[asset.tag])
    # when
    response = client.get(url)
    # then: the newest entries, newest first, and a link to the whole history
    history = response.context["history"]
    assert len(history) == HISTORY_ON_PAGE
    assert [c.new for c in history[0].changes] == ["名称24"]
    assert f'href="{url}?history=all#history"' in response.content.decode()


def test_the_whole_history_on_request(client_as):
    client = client_as("clerk")
    asset = _edited(client.user, 25)
    url = reverse("assets:detail", args=[asset.tag])
    response = client.get(url, {"history": "all"})
    history = response.context["history"]
    assert len(history) == 26
    assert history[-1].kind == "+"
    assert 'data-testid="history-all"' not in response.content.decode()


def test_no_link_when_the_history_fits(client_as):
    client = client_as("clerk")
    asset = _edited(client.user, HISTORY_ON_PAGE - 1)
    response = client.get(reverse("assets:detail", args=[asset.tag]))
    assert len(response.context["history"]) == HISTORY_ON_PAGE
    assert 'data-testid="history-all"' not in response.content.decode()
