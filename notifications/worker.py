"""A worker's own heartbeat: every minute, independent of beat, while the worker runs.

Connected to Celery's ``worker_ready`` signal in ``NotificationsConfig.ready``; the thread lives
in the worker's main process, so it reports the worker even when every pool slot is busy.
"""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 60
_stop = threading.Event()


def _loop(hostname: str) -> None:
    from django.db import close_old_connections, connection

    from .models import Heartbeat
    from .services import heartbeat_record

    while not _stop.is_set():
        try:
            close_old_connections()
            heartbeat_record(name=Heartbeat.WORKER, detail=hostname)
        except Exception:  # the database is away: try again next minute
            logger.exception("worker heartbeat failed")
        finally:
            connection.close()
        _stop.wait(INTERVAL_SECONDS)


@worker_ready.connect(dispatch_uid="notifications.worker_heartbeat")
def start_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", "") or "worker"
    _stop.clear()
    threading.Thread(
        target=_loop, args=(hostname,), name="notifications-heartbeat", daemon=True
    ).start()


@worker_shutdown.connect(dispatch_uid="notifications.worker_heartbeat_stop")
def stop_heartbeat(sender=None, **kwargs) -> None:
    _stop.set()
