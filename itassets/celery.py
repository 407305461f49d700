"""The Celery application. Tasks fetch by id and call one service (see shared/STYLE.md)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itassets.settings")

app = Celery("itassets")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
