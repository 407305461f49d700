"""Project-level Celery tasks (domain tasks live in each app's ``tasks.py``)."""

from celery import shared_task
from django.contrib.auth.models import Group
from django.db import connection

from .importing import tasks as import_tasks  # noqa: F401 (registers the web import's tasks)
from .roles import ROLES


@shared_task(bind=True)
def ping_database(self) -> dict:
    """Prove a worker reaches the database: which worker, which database, how many role groups.

    Operations run it after a deploy (``ping_database.delay().get(timeout=30)``); the test
    suite runs it on a real worker to prove the worker uses the test database.
    """
    role_groups = Group.objects.filter(name__in=[r.group for r in ROLES.values()]).count()
    return {
        "worker": self.request.hostname,
        "database": connection.settings_dict["NAME"],
        "role_groups": role_groups,
    }
