"""Extension points: how domain apps plug into notifications without notifications importing them.

Dependencies point one way (assets → notifications, inventory → notifications). A domain app
registers, in its ``AppConfig.ready()``:

- **event types** (``register_event_type``): the key, a label for the settings page, and the
  default channels per role (role slugs of ``itassets.roles``; ``"*"`` for everyone else). Users
  override the defaults on /notifications/settings/.
- **reminder evaluators** (``register_reminder``): for a ``ReminderRule.kind``, a callable
  ``fn(rule, now) -> Iterable[Occurrence]`` yielding what is due now. The scan
  (``services.reminder_scan``) turns each occurrence into deliveries, once: the deduplication
  key is ``"<kind>:<object_ref>:<occurrence>"``. assets registers warranty_ending, loan_due,
  assignment_unconfirmed, approval_pending and weekly_digest (``assets/reminders.py``);
  **inventory registers low_stock and stocktake_deadline the same way** (with a data migration
  of its own adding their ``ReminderRule`` rows). A rule whose kind nobody registered is skipped.
- **the directory** (``register_directory``): user → contact details (email, mobile, DingTalk and
  WeCom ids, used for @-mentions), user → department ids nearest first (which department robot
  posts for them), and the department choices of the robot admin form. Without a directory,
  ``User.email`` and the default robots are used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class EventType:
    key: str
    label: Any  # a lazy translation
    defaults: Mapping[str, Sequence[str]]  # role slug or "*" → channel values
    help_text: Any = ""
    reminder: bool = False


@dataclass(slots=True)
class Occurrence:
    """One thing due now, for some users: sent once per (rule, object, occurrence).

    An evaluator may yield occurrences with only ``object_ref``, ``occurrence`` and its own
    ``data`` and register a ``complete`` function: the scan then calls it, in batches, for the
    occurrences not delivered yet, to fill in recipients and texts. Finding what is due then
    reads indexes only; the rows behind them are read once, when they are first announced."""

    object_ref: str  # "assets.asset:42"
    occurrence: str  # "2026-03-01:lead-7", "overdue-2", "2026-W10"
    recipients: Sequence[int] = ()  # user ids
    subject: str = ""
    body: str = ""
    link: str = ""
    context: dict = field(default_factory=dict)
    data: Any = None  # the evaluator's own, for ``complete``


Complete = Callable[[Any, datetime, list[Occurrence]], None]


@dataclass(frozen=True)
class Reminder:
    kind: str
    label: Any
    evaluate: Callable[[Any, datetime], Iterable[Occurrence]]
    event_type: str  # the preference key its deliveries use (usually == kind)
    complete: Complete | None = None


@dataclass(frozen=True)
class Contact:
    name: str = ""
    email: str = ""
    mobile: str = ""
    dingtalk_id: str = ""
    wecom_id: str = ""


class Directory(Protocol):
    def contacts(self, user_ids: Sequence[int]) -> dict[int, Contact]: ...

    def departments_of(self, user_ids: Sequence[int]) -> dict[int, list[int]]: ...

    def department_choices(self) -> list[tuple[int, str]]: ...


_event_types: dict[str, EventType] = {}
_reminders: dict[str, Reminder] = {}
_directory: list[Directory] = []


def register_event_type(
    key: str,
    label,
    *,
    defaults: Mapping[str, Sequence[str]],
    help_text="",
    reminder: bool = False,
) -> EventType:
    """Declare an event type (idempotent: registering the same key again replaces it)."""
    event_type = EventType(key, label, dict(defaults), help_text, reminder)
    _event_types[key] = event_type
    return event_type


def register_reminder(
    kind: str,
    evaluate: Callable[[Any, datetime], Iterable[Occurrence]],
    *,
    label,
    defaults: Mapping[str, Sequence[str]],
    help_text="",
    complete: Complete | None = None,
) -> Reminder:
    """Register the evaluator of ``ReminderRule.kind == kind`` and its event type
    (``complete``: see ``Occurrence``)."""
    register_event_type(kind, label, defaults=defaults, help_text=help_text, reminder=True)
    reminder = Reminder(kind, label, evaluate, kind, complete)
    _reminders[kind] = reminder
    return reminder


def register_directory(directory: Directory) -> None:
    _directory[:] = [directory]


def event_type(key: str) -> EventType | None:
    return _event_types.get(key)


def event_types() -> list[EventType]:
    """Events first, then reminders, each in registration order."""
    values = list(_event_types.values())
    return [e for e in values if not e.reminder] + [e for e in values if e.reminder]


def reminder(kind: str) -> Reminder | None:
    return _reminders.get(kind)


def reminders() -> list[Reminder]:
    return list(_reminders.values())


def directory() -> Directory | None:
    return _directory[0] if _directory else None
