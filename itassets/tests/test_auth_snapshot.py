"""The auth snapshot (itassets/auth.py, docs/decisions.md 17): a warm request reads its user,
roles, person and permissions from the cache (Redis, as in production) without a query, and
every normal change to them takes effect on the very next request.

The test transaction never commits, so a snapshot (kept when its transaction commits) is only
written where a test says so: ``warm`` runs a request as if it had committed."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from assets.tests.factories import PersonFactory
from itassets.auth import RolesModelBackend, _bump_now, bump_auth_generation
from itassets.auth import _generation_key as generation_key
from itassets.roles import CLERK, EMPLOYEE, KEEPER, ROLES, user_role_slugs

pytestmark = pytest.mark.django_db

LEDGER = "/inventory/api/items/999999/ledger/"  # has_perm, then one lookup of the item
AUTH_TABLES = ("`auth_user`", "`auth_group`", "`auth_permission`", "`auth_user_")


@pytest.fixture
def warm(django_capture_on_commit_callbacks):
    def _warm(client, path):
        with django_capture_on_commit_callbacks(execute=True):
            return client.get(path)

    return _warm


def _auth_queries(captured) -> list[str]:
    return [q["sql"] for q in captured if any(t in q["sql"] for t in AUTH_TABLES)]


def _get_counting(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, _auth_queries(queries.captured_queries), len(queries.captured_queries)


def _group(slug: str) -> Group:
    return Group.objects.get(name=ROLES[slug].group)


def test_a_warm_request_asks_the_database_nothing_about_its_user(client_as, warm):
    # given: a keeper whose first request loaded user, roles, person and permissions
    client = client_as(KEEPER)
    PersonFactory(user=client.user)
    assert warm(client, LEDGER).status_code == 404
    # when
    response, auth_queries, total = _get_counting(client, LEDGER)
    # then: the permission was checked (a 404, not a 403) and only the item was looked up
    assert response.status_code == 404
    assert auth_queries == []
    assert total == 1


def test_a_cold_request_asks_as_before(client_as):
    client = client_as(KEEPER)
    response, auth_queries, total = _get_counting(client, LEDGER)
    assert response.status_code == 404
    assert len(auth_queries) == 2  # the user with roles and person; the permissions
    assert total == 3


def test_the_snapshot_user_is_the_one_the_queries_give(warm, client_as, django_assert_num_queries):
    # given: a clerk and keeper with a person, warmed
    client = client_as(CLERK)
    client.user.groups.add(_group(KEEPER))
    person = PersonFactory(user=client.user)
    warm(client, LEDGER)
    # when
    cached = client.get(LEDGER).wsgi_request.user
    loaded = RolesModelBackend().get_user(client.user.pk)
    # then
    assert cached.pk == loaded.pk
    assert cached.get_session_auth_hash() == loaded.get_session_auth_hash()
    assert [getattr(cached, f.attname) for f in cached._meta.concrete_fields] == [
        getattr(loaded, f.attname) for f in loaded._meta.concrete_fields
    ]
    with django_assert_num_queries(0):
        assert user_role_slugs(cached) == {CLERK, KEEPER}
        assert cached.person == person
        assert cached.person.user == cached
        permissions = cached.get_all_permissions()
    assert user_role_slugs(loaded) == {CLERK, KEEPER}
    assert permissions == RolesModelBackend().get_all_permissions(loaded)
    assert "inventory.view_ledgerentry" in permissions


def test_revoking_a_role_applies_on_the_next_request(client_as, warm):
    # given: a clerk served from the snapshot
    client = client_as(CLERK)
    warm(client, "/assets/")
    response, auth_queries, _total = _get_counting(client, "/assets/")
    assert response.status_code == 200 and auth_queries == []
    # when
    client.user.groups.remove(_group(CLERK))
    # then
    assert client.get("/assets/").status_code == 403


def test_removing_a_permission_from_a_group_applies_on_the_next_request(client_as, warm):
    # given
    client = client_as(KEEPER)
    warm(client, LEDGER)
    assert _get_counting(client, LEDGER)[1] == []
    # when: the keepers' group loses the ledger permission
    _group(KEEPER).permissions.remove(
        Permission.objects.get(codename="view_ledgerentry", content_type__app_label="inventory")
    )
    # then
    assert client.get(LEDGER).status_code == 403


def test_a_deactivated_user_is_refused_on_the_next_request(client_as, warm):
    client = client_as(KEEPER)
    warm(client, LEDGER)
    # when
    client.user.is_active = False
    client.user.save(update_fields=["is_active"])
    # then: no longer signed in
    assert client.get(LEDGER).status_code == 401


def test_a_changed_password_signs_out_other_sessions_on_the_next_request(client_as, warm):
    client = client_as(KEEPER)
    warm(client, LEDGER)
    # when
    client.user.set_password("An0ther-Passw0rd!")
    client.user.save()
    # then: the session's hash no longer matches
    assert client.get(LEDGER).status_code == 401
    assert "_auth_user_id" not in client.session


def test_unlinking_a_person_applies_on_the_next_request(client_as, warm):
    # given: an employee linked to a person sees "My assets"
    client = client_as(EMPLOYEE)
    person = PersonFactory(user=client.user)
    assert 'href="/me/assets/"' in warm(client, "/").content.decode()
    # when
    person.user = None
    person.save()
    # then
    assert 'href="/me/assets/"' not in client.get("/").content.decode()


def test_a_snapshot_read_inside_a_rolled_back_transaction_is_not_kept(client_as, warm):
    # given: a clerk, warm
    client = client_as(CLERK)
    warm(client, "/assets/")

    class Undo(Exception):
        pass

    # when: a transaction takes the role away, loads the user (and would snapshot them
    # without the role), then rolls back
    with pytest.raises(Undo), transaction.atomic():
        client.user.groups.remove(_group(CLERK))
        assert user_role_slugs(RolesModelBackend().get_user(client.user.pk)) == set()
        raise Undo
    # then: the role is still there on the next request
    assert client.get("/assets/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_change_bumps_the_generation_again_when_it_commits(make_user):
    # given: a real transaction (this test commits)
    user = make_user(CLERK)
    with transaction.atomic():
        # when: two changes
        user.groups.remove(_group(CLERK))
        user.groups.add(_group(KEEPER))
        bumped_at_once = cache.get(generation_key())
        assert bumped_at_once is not None
        pending = [c for c in connection.run_on_commit if c[1] is _bump_now]
        assert len(pending) == 1  # the changes share one bump at commit
    # then: a snapshot another request built meanwhile, from the rows before the commit and
    # tagged with the generation of that moment, is stale once the commit is done
    assert cache.get(generation_key()) != bumped_at_once


def test_a_bulk_write_made_known_with_bump_takes_effect(client_as, warm, django_user_model):
    client = client_as(KEEPER)
    warm(client, LEDGER)
    # when: a queryset update, which sends no signal, followed by the explicit bump
    django_user_model.objects.filter(pk=client.user.pk).update(is_active=False)
    bump_auth_generation()
    # then
    assert client.get(LEDGER).status_code == 401


def test_without_snapshots_every_request_asks_the_database(client_as, warm, settings):
    settings.AUTH_SNAPSHOT_SECONDS = 0
    client = client_as(KEEPER)
    warm(client, LEDGER)
    assert len(_get_counting(client, LEDGER)[1]) == 2


def test_a_write_succeeds_when_the_cache_is_down_and_says_so(make_user, settings, caplog):
    # given: a user, and the cache pointing at a Redis that does not answer
    user = make_user(KEEPER)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/15",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    # when: `migrate` and `bootstrap_admin` may run before Redis is up
    user.is_active = False
    user.save(update_fields=["is_active"])
    # then: saved, and the failed invalidation is logged as an error
    user.refresh_from_db()
    assert user.is_active is False
    assert any(
        r.levelname == "ERROR" and "auth generation not replaced" in r.getMessage()
        for r in caplog.records
    )
