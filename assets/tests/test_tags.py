"""Asset tags: pattern, per-prefix sequences, skipping taken tags, and 50 concurrent creations
on MariaDB giving 50 distinct tags."""

import re
import threading
from datetime import date

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from assets import services
from assets.models import Asset, TagSequence

from .factories import AssetFactory, AssetModelFactory

THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_creations_get_50_distinct_tags():
    # given: one model; 50 threads, each with its own database connection
    assert connection.vendor == "mysql", "the race needs the real MariaDB"
    model = AssetModelFactory()
    start = threading.Barrier(THREADS)
    tags: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        try:
            start.wait(timeout=30)
            asset = services.asset_create(
                actor=None, model=model, data={"serial_number": f"RACE-{n:03d}"}
            )
            with lock:
                tags.append(asset.tag)
        except BaseException as exc:  # reported below, with the thread's error
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=create, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # then
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(tags) == THREADS
    assert len(set(tags)) == THREADS
    year = timezone.localdate().year
    assert all(re.fullmatch(rf"IT-{year}-\d{{6}}", t) for t in tags), tags
    assert Asset.objects.filter(serial_number__startswith="RACE-").count() == THREADS
    assert TagSequence.objects.get(prefix=f"IT-{year}-").last_value == THREADS
    assert sorted(tags) == [f"IT-{year}-{n:06d}" for n in range(1, THREADS + 1)]


def test_the_default_pattern_splits_into_a_yearly_prefix():
    assert services.tag_prefix(today=date(2026, 5, 4)) == ("IT-2026-", "{seq:06d}")


@override_settings(ASSET_TAG_PATTERN="PC{yy}{mm}-{seq:04d}")
def test_a_custom_pattern_from_settings():
    assert services.tag_prefix(today=date(2026, 3, 5)) == ("PC2603-", "{seq:04d}")


@override_settings(ASSET_TAG_PATTERN="资产-{seq:05d}")
def test_a_custom_pattern_allocates_in_its_own_format(db):
    assert services.asset_tags_allocate(count=2) == ["资产-00001", "资产-00002"]


def test_a_pattern_without_a_sequence_is_refused():
    with pytest.raises(ValueError, match="seq"):
        services.tag_prefix(pattern="IT-{yyyy}")


def test_tags_already_taken_are_skipped(db):
    # given: imported assets already hold numbers 1, 2 and 4 of 2026
    for tag in ["IT-2026-000001", "IT-2026-000002", "IT-2026-000004"]:
        AssetFactory(tag=tag)

    # when
    tags = services.asset_tags_allocate(count=3, today=date(2026, 6, 1))

    # then
    assert tags == ["IT-2026-000003", "IT-2026-000005", "IT-2026-000006"]
    assert TagSequence.objects.get(prefix="IT-2026-").last_value == 6


def test_the_sequence_restarts_for_each_year(db):
    first_2025 = services.asset_tags_allocate(today=date(2025, 12, 31))
    first_2026 = services.asset_tags_allocate(today=date(2026, 1, 1))
    second_2025 = services.asset_tags_allocate(today=date(2025, 12, 31))

    assert (first_2025, first_2026, second_2025) == (
        ["IT-2025-000001"],
        ["IT-2026-000001"],
        ["IT-2025-000002"],
    )
    assert dict(TagSequence.objects.values_list("prefix", "last_value")) == {
        "IT-2025-": 2,
        "IT-2026-": 1,
    }


def test_a_batch_gets_consecutive_tags(db):
    tags = services.asset_tags_allocate(count=5, today=date(2026, 2, 1))

    assert tags == [f"IT-2026-{n:06d}" for n in range(1, 6)]
