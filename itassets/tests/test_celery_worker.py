"""A real Celery worker (subprocess) on the Redis broker and the pytest test database."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from itassets import celery_app
from itassets.tasks import ping_database

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_task_round_trips_through_the_worker_on_the_test_database(celery_worker):
    # given: a group committed by the test, so only a worker on the test DB can count it
    Group.objects.create(name="资产管理员（临时）")
    assert celery_app.conf.task_always_eager is False

    # when
    result = ping_database.delay()
    value = result.get(timeout=30)

    # then
    assert value == {"database": connection.settings_dict["NAME"], "role_groups": 6}
    assert value["database"].startswith("test_")
    assert Group.objects.count() == 7
    assert f"Task itassets.tasks.ping_database[{result.id}] succeeded" in celery_worker.log()


def test_tasks_run_eagerly_without_a_worker():
    # when
    result = ping_database.delay()

    # then
    assert celery_app.conf.task_always_eager is True
    assert result.successful()
    assert result.get() == {"database": connection.settings_dict["NAME"], "role_groups": 6}
