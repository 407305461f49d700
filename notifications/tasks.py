"""Celery tasks of the notifications app: each fetches by id (or scans) and calls one service.

All are ``acks_late``: a worker that dies mid-task leaves the message to be delivered again,
and every task is idempotent (a sent delivery is skipped, a reminder occurrence exists once).
The periodic ones are scheduled by django-celery-beat rows that the data migration
``0002_defaults`` creates (editable in the admin).
"""

from __future__ import annotations

import socket

from celery import shared_task

from . import services
from .models import Heartbeat


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Send one delivery (one task per delivery: a failing robot never blocks the others)."""
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(name="notifications.reminder_scan", acks_late=True)
def reminder_scan(kinds: list[str] | None = None) -> dict:
    """Create the deliveries of every reminder due now (beat: every 15 minutes)."""
    return services.reminder_scan(kinds=kinds).as_dict()


@shared_task(name="notifications.retry_due", acks_late=True, ignore_result=True)
def retry_due() -> int:
    """Re-enqueue failed deliveries whose retry time has come and lost queued ones."""
    return services.deliveries_retry_due()


@shared_task(bind=True, name="notifications.beat_tick", acks_late=True, ignore_result=True)
def beat_tick(self) -> None:
    """Scheduled every minute by beat (expires after 60 s): proves beat and a worker run."""
    worker = self.request.hostname or socket.gethostname()
    services.heartbeat_record(name=Heartbeat.BEAT, detail=f"run by {worker}")
    services.heartbeat_record(name=Heartbeat.WORKER, detail=worker)


@shared_task(bind=True, name="notifications.worker_ping", acks_late=True, ignore_result=True)
def worker_ping(self) -> None:
    services.heartbeat_record(
        name=Heartbeat.WORKER, detail=self.request.hostname or socket.gethostname()
    )
