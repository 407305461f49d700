"""Django's cache is Redis (django-redis) on the test database 15."""

from django.core.cache import cache


def test_cache_round_trips_through_redis_db_15(redis_db):
    # given
    value = {"asset": "IT-2026-000001", "名称": "笔记本电脑"}

    # when
    cache.set("probe", value, timeout=60)

    # then
    assert cache.get("probe") == value
    assert redis_db.connection_pool.connection_kwargs["db"] == 15
    assert redis_db.keys("*") == [b"itassets:1:probe"]
    assert 0 < redis_db.ttl("itassets:1:probe") <= 60


def test_redis_db_starts_empty(redis_db):
    # then
    assert redis_db.dbsize() == 0
    assert cache.get("probe") is None
