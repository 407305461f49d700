"""Writing an import while it is still being validated: a writer thread, one transaction.

Validation is Python on one core; the inserts are the database's work. Done one after the
other, an import of 100,000 assets spent about as long waiting for MariaDB as it spent
validating. With a :class:`StreamWriter`, every chunk that validates is handed (through a
small bounded queue) to a thread that writes it on its own database connection, inside ONE
transaction, while the next chunk is validated:

- the transaction commits only after the whole file has validated without a single error
  (:meth:`StreamWriter.commit`); the first error anywhere stops the feeding and rolls back
  what was written (:meth:`StreamWriter.abort`), so the import stays all or nothing;
- validation keeps reading through the importing thread's own connection and sees only
  committed data, as before (never the writer's uncommitted rows);
- a database error in the writer (a concurrent change) is kept and reported after
  validation, exactly as a failed write phase was.

Used only where it is safe and useful: MySQL/MariaDB (SQLite has one writer per file), not
inside a transaction of the caller (a second connection could not see the caller's
uncommitted rows), and ``settings.IMPORT_STREAM_WRITES`` (default True). Otherwise the
importer validates everything first and then writes in one transaction on the caller's
connection, as it always did.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

QUEUE_BATCHES = 3  # validated chunks waiting for the writer (bounded: memory stays flat)
_COMMIT = object()
_ABORT = object()


class _Aborted(Exception):
    pass


def stream_writes_possible() -> bool:
    return (
        getattr(settings, "IMPORT_STREAM_WRITES", True)
        and connection.vendor == "mysql"
        and not connection.in_atomic_block
    )


class StreamWriter:
    """Feeds batches to ``write_batch`` (called on the writer thread, inside its
    transaction; returns the number of rows written) until :meth:`commit` or :meth:`abort`."""

    def __init__(self, write_batch: Callable[[object], int]):
        self.write_batch = write_batch
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self.error: BaseException | None = None
        self.written = 0
        self.closed = False
        self.thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self.thread is not None

    def feed(self, batch) -> None:
        """Queue a validated batch (blocks while the queue is full)."""
        if self.closed or self.error is not None:
            return
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
            self.thread.start()
        self.queue.put(batch)

    def commit(self, progress: Callable[[int], None] | None = None) -> None:
        """Write what is queued and commit; raises the writer's error if it failed (nothing
        is then written)."""
        self._close(_COMMIT, progress)
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Roll back everything written so far (the writer thread is waited for)."""
        self._close(_ABORT, None)

    def _close(self, sentinel, progress) -> None:
        if self.closed:
            return
        self.closed = True
        if self.thread is None:
            return
        self.queue.put(sentinel)
        while self.thread.is_alive():
            self.thread.join(0.25)
            if progress:
                progress(self.written)

    def _run(self) -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                while True:
                    batch = self.queue.get()
                    if batch is _COMMIT:
                        break
                    if batch is _ABORT:
                        raise _Aborted
                    self.written += self.write_batch(batch)
        except _Aborted:
            pass
        except BaseException as exc:  # kept for the importing thread, which reports it
            self.error = exc
            self._drain()
        finally:
            connection.close()  # this thread's connection

    def _drain(self) -> None:
        """After a failure: take batches until the end is signalled, so that a feeding
        thread blocked on the full queue goes on."""
        while self.queue.get() not in (_COMMIT, _ABORT):
            pass
