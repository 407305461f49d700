"""A real Celery worker (subprocess) on the Redis broker and the pytest test database."""

import pytest
from celery.utils.nodenames import gethostname
from django.contrib.auth.models import Group
from django.db import connection

from itassets import celery_app
from itassets.roles import ROLES
from itassets.tasks import ping_database

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_task_round_trips_through_the_worker_on_the_test_database(celery_worker):
    # given: a change committed by the test, which only a worker on the test DB can see
    Group.objects.filter(name=ROLES["auditor"].group).delete()
    assert celery_app.conf.task_always_eager is False

    # when
    result = ping_database.delay()
    value = result.get(timeout=30)

    # then
    assert value == {
        "worker": celery_worker.name,
        "database": connection.settings_dict["NAME"],
        "role_groups": 5,
    }
    assert value["database"].startswith("test_")


def test_tasks_run_eagerly_without_a_worker():
    # when
    result = ping_database.delay()

    # then
    assert celery_app.conf.task_always_eager is True
    assert result.successful()
    assert result.get() == {
        "worker": gethostname(),
        "database": connection.settings_dict["NAME"],
        "role_groups": 6,
    }
