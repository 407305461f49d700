"""The zh-hans catalog is complete and compiled; the language switch works end to end.

msgids are English; ``locale/zh_Hans/LC_MESSAGES/django.po`` holds the Chinese. Fix a failure
here with ``make messages`` and fill the listed msgstr entries.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
from django.apps import apps
from django.conf import settings

PO_PATH = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
LOGIN_URL = "/accounts/login/"


def _source_dirs() -> list[Path]:
    """Our apps, templates and locale (never .venv, var, static/vendor)."""
    base = Path(settings.BASE_DIR)
    dirs = {base / "templates", base / "locale"}
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.parent == base:  # a project app (third-party apps live in .venv)
            dirs.add(path)
    return sorted(d for d in dirs if d.is_dir())


def _copy_project(dest: Path) -> None:
    base = Path(settings.BASE_DIR)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for src in _source_dirs():
        shutil.copytree(src, dest / src.relative_to(base), ignore=ignore)
    shutil.copy2(base / "manage.py", dest / "manage.py")


def _catalog(mo: polib.MOFile) -> dict:
    """(msgctxt, msgid) → msgstr (or the tuple of plural forms), without the header."""
    entries = {}
    for e in mo:
        if not e.msgid:
            continue
        value = tuple(e.msgstr_plural[k] for k in sorted(e.msgstr_plural)) or e.msgstr
        entries[(e.msgctxt, e.msgid)] = value
    return entries


def test_every_msgid_in_the_source_has_a_chinese_translation(tmp_path):
    # given a copy of the sources with the committed catalog
    _copy_project(tmp_path)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "itassets.settings",
        "PYTHONPATH": str(tmp_path),
    }

    # when the messages are extracted again (as `make messages` does)
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    # then every entry has a msgstr that is not fuzzy
    po = polib.pofile(str(tmp_path / PO_PATH.relative_to(settings.BASE_DIR)))
    problems = []
    for e in po:
        if e.obsolete:
            continue
        plural_empty = e.msgid_plural and not (e.msgstr_plural and all(e.msgstr_plural.values()))
        where = e.occurrences[0][0] if e.occurrences else "?"
        if "fuzzy" in e.flags:
            problems.append(f"fuzzy:        {e.msgid!r}  ({where})")
        elif plural_empty or (not e.msgid_plural and not e.msgstr):
            problems.append(f"untranslated: {e.msgid!r}  ({where})")
    assert not problems, (
        "locale/zh_Hans/LC_MESSAGES/django.po is incomplete; run `make messages`, fill these "
        "msgstr entries, and run `make messages` again:\n  " + "\n  ".join(problems)
    )


def test_committed_mo_matches_the_committed_po(tmp_path):
    # given the committed catalog compiled afresh (with placeholder checks)
    fresh = tmp_path / "django.mo"
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(PO_PATH)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr

    # when it is compared with the committed django.mo
    expected = _catalog(polib.mofile(str(fresh)))
    committed = _catalog(polib.mofile(str(MO_PATH)))

    # then they hold the same translations
    stale = sorted(
        str(key[1])
        for key in expected.keys() | committed.keys()
        if expected.get(key) != committed.get(key)
    )
    assert not stale, "django.mo is out of date; run `make messages`:\n  " + "\n  ".join(stale)


def test_login_page_is_chinese_by_default_even_for_an_english_browser(client):
    # when
    response = client.get(LOGIN_URL, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-CN">' in body
    assert "登录" in body
    assert "用户名" in body
    assert "Log in" not in body
    assert "Username" not in body


def test_login_page_is_english_with_the_language_cookie(client):
    # given
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    # when
    response = client.get(LOGIN_URL)

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert "Log in" in body
    assert "Username" in body
    assert "Password" in body
    assert "登录" not in body


def test_unknown_language_cookie_falls_back_to_chinese(client):
    # given
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    # when
    response = client.get(LOGIN_URL)

    # then
    assert response["Content-Language"] == "zh-hans"
    assert "用户名" in response.content.decode()


def test_language_switch_is_rendered_with_both_languages(client):
    # when
    body = client.get(LOGIN_URL).content.decode()

    # then
    assert 'action="/i18n/setlang/"' in body
    assert 'name="language" value="en"' in body
    assert 'name="language" value="zh-hans"' in body
    assert f'name="next" type="hidden" value="{LOGIN_URL}"' in body


def test_language_switch_sets_the_cookie_and_the_next_page_is_english(client):
    # when
    response = client.post("/i18n/setlang/", {"language": "en", "next": LOGIN_URL})

    # then the cookie is set and the user goes back to the page
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get(LOGIN_URL).content.decode()
    assert "Log in" in page
    assert "登录" not in page

    # and switching back gives Chinese again
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": LOGIN_URL})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "登录" in client.get(LOGIN_URL).content.decode()


def test_language_switch_to_a_language_we_do_not_offer_keeps_chinese(client):
    # when (Django's set_language accepts any language it has a catalog for, e.g. French)
    response = client.post("/i18n/setlang/", {"language": "fr", "next": LOGIN_URL})

    # then the middleware ignores it and the page stays Chinese
    assert response.status_code == 302
    page = client.get(LOGIN_URL)
    assert page["Content-Language"] == "zh-hans"
    assert "登录" in page.content.decode()


def test_admin_site_header_is_translated(client_as):
    # given
    client = client_as("clerk")

    # when
    chinese = client.get("/admin/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/admin/").content.decode()

    # then
    assert "IT物资管理后台" in chinese
    assert "资产管理员工作台" in chinese
    assert "IT Asset Management Admin" in english
    assert "IT物资管理后台" not in english
