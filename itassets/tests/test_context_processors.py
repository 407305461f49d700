"""The site context processor: the navigation is built only when a template shows it."""

import pytest
from django.utils.functional import empty

from itassets.roles import CLERK

pytestmark = pytest.mark.django_db


def test_a_fragment_does_not_build_the_navigation(client_as):
    # when: the notification badge (a fragment every open page polls)
    response = client_as(CLERK).get("/notifications/badge/")
    # then
    assert response.status_code == 200
    assert response.context["nav_items"]._wrapped is empty
    assert response.context["user_roles"]._wrapped is empty


def test_a_page_shows_the_navigation_and_roles(client_as):
    # when
    response = client_as(CLERK).get("/")
    # then
    html = response.content.decode()
    urls = [item["url"] for item in response.context["nav_items"]]
    assert "/assets/" in urls
    assert 'href="/assets/"' in html
    assert "资产管理员" in html  # the clerk role's label in the user menu
