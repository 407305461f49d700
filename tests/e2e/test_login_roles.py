"""Every role signs in through the real login form and lands on the home page."""

import re

import pytest
from playwright.sync_api import expect

from itassets.roles import ROLES

BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_logs_in_and_lands_on_home(page, login, live_server, screenshots, role):
    # when
    user = login(page, role)

    # then
    assert page.url == f"{live_server.url}/"
    expect(page.locator("h1")).to_contain_text(user.username)
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_contain_text(user.username)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    navbar_colour = page.locator("nav.navbar").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert navbar_colour == BOOTSTRAP_PRIMARY  # Bootstrap's CSS is served and applied
    page.screenshot(path=screenshots / f"home-{role}.png", full_page=True)


def test_wrong_password_stays_on_the_login_page(page, make_user, live_server):
    # given
    user = make_user("employee")

    # when
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "not-the-password")
    page.click("form button[type=submit]")

    # then
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.locator(".alert-danger")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)


def test_navbar_collapses_on_a_phone(make_page, login, screenshots):
    # given
    page = make_page(width=375, height=812)
    login(page, "employee")
    toggler = page.locator(".navbar-toggler")

    # then: the menu hides behind the toggler
    expect(toggler).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_be_hidden()

    # when: Bootstrap's JavaScript opens it
    toggler.click()

    # then
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    page.screenshot(path=screenshots / "home-employee-phone.png", full_page=True)
