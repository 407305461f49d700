"""Reads for approvals, asset requests (申领) and employees' self-service (我的资产).

Who may decide what is answered here once, for both the services (which refuse with
PermissionDenied) and the queues (which only list what the user may decide):

- an approval step with a named approver: only that user;
- a role step without one: a user with that role and ``assets.approve_asset_request``;
  a ``dept_head`` step further needs the asset's department inside a department they head;
- an asset request: a head of the requester's department or of an ancestor department
  (never the requester), or an administrator; fulfilling needs ``assets.assign_asset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from itassets.roles import ADMIN, CLERK, DEPT_HEAD, has_role

from .lifecycle import Status
from .models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetModel,
    AssetRequest,
    Category,
    Department,
    Handover,
    Person,
    RepairOrder,
)
from .selectors import headed_department_ids, person_for

APPROVE_PERMISSION = "assets.approve_asset_request"
FULFIL_PERMISSION = "assets.assign_asset"
# Statuses in which an asset is with its holder (a return or a fault report makes sense).
HELD_STATUSES = (Status.IN_USE, Status.ON_LOAN)
RETURN_REQUESTED = "return_requested"
HISTORY_LIMIT = 50


# --- Departments --------------------------------------------------------------------------


def department_head_user(department: Department | None):
    """The user of the nearest head up the tree from ``department`` (itself first), or None.

    A sub-department without a head of its own is decided by its parent's head. One query.
    """
    if department is None:
        return None
    steplen = Department.steplen
    paths = [department.path[:n] for n in range(steplen, len(department.path) + 1, steplen)]
    row = (
        Department.objects.filter(path__in=paths, head__user__isnull=False, head__is_active=True)
        .select_related("head__user")
        .order_by("-depth")
        .first()
    )
    return row.head.user if row else None


def department_head_person_ids(department: Department | None) -> set[int]:
    """Heads of ``department`` and of every ancestor department."""
    if department is None:
        return set()
    steplen = Department.steplen
    paths = [department.path[:n] for n in range(steplen, len(department.path) + 1, steplen)]
    return set(
        Department.objects.filter(path__in=paths, head__isnull=False).values_list(
            "head_id", flat=True
        )
    )


# --- Approvals ----------------------------------------------------------------------------


def approval_step_q(user) -> Q | None:
    """A Q over ApprovalStep for the steps ``user`` may decide (None: none at all)."""
    if not getattr(user, "is_authenticated", False):
        return None
    q = Q(approver=user)
    if user.has_perm(APPROVE_PERMISSION):
        if has_role(user, CLERK):
            q |= Q(approver__isnull=True, role=CLERK)
        if has_role(user, DEPT_HEAD):
            dept_ids = headed_department_ids(person_for(user))
            if dept_ids:
                q |= Q(
                    approver__isnull=True,
                    role=DEPT_HEAD,
                    request__asset__department_id__in=dept_ids,
                )
    return q


def approval_step_may_decide(step: ApprovalStep, user) -> bool:
    """Whether ``user`` may decide ``step`` (whatever its state)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if step.approver_id is not None:
        return step.approver_id == user.pk
    if not user.has_perm(APPROVE_PERMISSION):
        return False
    if step.role == CLERK:
        return has_role(user, CLERK)
    if step.role == DEPT_HEAD:
        if not has_role(user, DEPT_HEAD):
            return False
        return step.request.asset.department_id in headed_department_ids(person_for(user))
    return False


def _open_steps() -> QuerySet[ApprovalStep]:
    return ApprovalStep.objects.filter(
        decision=ApprovalStep.Decision.PENDING,
        request__state=ApprovalRequest.State.PENDING,
        number=F("request__current_step"),
    )


def approval_queue(*, user) -> QuerySet[ApprovalStep]:
    """The open steps ``user`` may decide now, oldest request first."""
    q = approval_step_q(user)
    if q is None:
        return ApprovalStep.objects.none()
    return (
        _open_steps()
        .filter(q)
        .select_related(
            "request__asset__category",
            "request__asset__department",
            "request__asset__holder",
            "request__requested_by",
        )
        .order_by("request__requested_at", "request_id")
    )


def approval_history(*, user, limit: int = HISTORY_LIMIT) -> list[ApprovalStep]:
    """The steps ``user`` decided, newest first."""
    return list(
        ApprovalStep.objects.filter(decided_by=user)
        .exclude(decision=ApprovalStep.Decision.SKIPPED)
        .select_related("request__asset", "request__requested_by")
        .order_by("-decided_at", "-id")[:limit]
    )


def approvals_requested_by(*, user, limit: int = HISTORY_LIMIT) -> list[ApprovalRequest]:
    """Approval requests ``user`` started, pending first, with their steps."""
    return list(
        ApprovalRequest.objects.filter(requested_by=user)
        .select_related("asset")
        .prefetch_related(
            Prefetch("steps", queryset=ApprovalStep.objects.select_related("decided_by"))
        )
        .order_by("-requested_at", "-id")[:limit]
    )


def approval_step_for_decision(*, user, pk: int) -> ApprovalStep | None:
    """The open step of approval ``pk`` if ``user`` may decide it now (else None → 404)."""
    q = approval_step_q(user)
    if q is None:
        return None
    return (
        _open_steps()
        .filter(q, request_id=pk)
        .select_related("request__asset", "request__requested_by")
        .first()
    )


def approval_steps(*, approval: ApprovalRequest) -> list[ApprovalStep]:
    return list(approval.steps.select_related("approver", "decided_by").order_by("number"))


# --- Asset requests -----------------------------------------------------------------------


def asset_request_may_decide(request: AssetRequest, user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if request.requester.user_id == user.pk:
        return False
    if has_role(user, ADMIN):
        return True
    person = person_for(user)
    if person is None:
        return False
    return person.pk in department_head_person_ids(request.department)


def asset_request_may_fulfil(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(FULFIL_PERMISSION))


def _request_relations(qs: QuerySet[AssetRequest]) -> QuerySet[AssetRequest]:
    return qs.select_related(
        "requester", "department", "category", "model", "fulfilled_asset", "decided_by"
    )


def asset_requests_mine(*, user) -> QuerySet[AssetRequest]:
    person = person_for(user)
    if person is None:
        return AssetRequest.objects.none()
    return _request_relations(AssetRequest.objects.filter(requester=person)).order_by(
        "-created_at", "-id"
    )


def asset_requests_to_decide(*, user) -> QuerySet[AssetRequest]:
    """Submitted requests ``user`` may approve: their departments' (admin: all)."""
    qs = AssetRequest.objects.filter(state=AssetRequest.State.SUBMITTED)
    person = person_for(user)
    if person is not None:
        qs = qs.exclude(requester=person)
    if not has_role(user, ADMIN):
        dept_ids = headed_department_ids(person)
        if not dept_ids:
            return AssetRequest.objects.none()
        qs = qs.filter(department_id__in=dept_ids)
    return _request_relations(qs).order_by("created_at", "id")


def asset_requests_to_fulfil(*, user) -> QuerySet[AssetRequest]:
    if not asset_request_may_fulfil(user):
        return AssetRequest.objects.none()
    return _request_relations(
        AssetRequest.objects.filter(state=AssetRequest.State.APPROVED)
    ).order_by("needed_by", "created_at", "id")


def asset_request_for_decision(*, user, pk: int) -> AssetRequest | None:
    return asset_requests_to_decide(user=user).filter(pk=pk).first()


def asset_request_for_fulfilment(*, user, pk: int) -> AssetRequest | None:
    return asset_requests_to_fulfil(user=user).filter(pk=pk).first()


def asset_request_candidates(*, request: AssetRequest) -> QuerySet[Asset]:
    """In-stock assets that fulfil ``request``: its category's subtree and model if given."""
    qs = Asset.objects.filter(
        status=Status.IN_STOCK, category__path__startswith=request.category.path
    )
    if request.model_id:
        qs = qs.filter(model_id=request.model_id)
    return qs.select_related("model", "location").order_by("tag")


def request_categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("path")


def request_models(*, category: Category | None) -> QuerySet[AssetModel]:
    qs = AssetModel.objects.filter(is_active=True).select_related("manufacturer")
    if category is not None:
        qs = qs.filter(category__path__startswith=category.path)
    return qs


# --- My assets ----------------------------------------------------------------------------


@dataclass
class MyAssets:
    person: Person
    assets: list[Asset]
    handovers: list[Handover]
    today: object

    @property
    def overdue(self) -> list[Asset]:
        return [a for a in self.assets if a.overdue]


def _latest_event(field: str = "transition") -> Subquery:
    return Subquery(
        AssetEvent.objects.filter(asset=OuterRef("pk"))
        .order_by("-occurred_at", "-id")
        .values(field)[:1]
    )


def my_assets(*, user) -> MyAssets | None:
    """What ``user`` holds, the handovers they have to confirm, and per asset the open fault
    report and whether a return is requested. Four queries whatever the number of assets."""
    person = person_for(user)
    if person is None:
        return None
    assets = list(
        Asset.objects.filter(holder=person)
        .exclude(status=Status.DISPOSED)
        .annotate(last_transition=_latest_event())
        .select_related("model", "category", "location", "department")
        .defer("custom_fields", "notes")
        .order_by(F("due_date").asc(nulls_last=True), "tag")
    )
    open_repairs = {}
    if assets:
        for order in RepairOrder.objects.filter(
            asset_id__in=[a.pk for a in assets],
            state__in=(RepairOrder.State.REQUESTED, RepairOrder.State.IN_REPAIR),
        ).order_by("reported_at", "id"):
            open_repairs.setdefault(order.asset_id, order)
    today = timezone.localdate()
    for asset in assets:
        asset.open_repair = open_repairs.get(asset.pk)
        asset.return_requested = asset.last_transition == RETURN_REQUESTED
        asset.overdue = bool(asset.due_date and asset.due_date < today)
    handovers = list(
        Handover.objects.filter(to_person=person, needs_acceptance=True, accepted_at__isnull=True)
        .select_related("created_by", "location", "to_department")
        .prefetch_related(
            Prefetch("events", queryset=AssetEvent.objects.select_related("asset").order_by("id"))
        )
        .order_by("created_at", "id")
    )
    return MyAssets(person=person, assets=assets, handovers=handovers, today=today)


def return_requested(*, asset: Asset) -> bool:
    """Whether the asset's latest event is a return request (nobody has acted on it yet)."""
    last = asset.events.order_by("-occurred_at", "-id").values_list("transition", flat=True)
    return last.first() == RETURN_REQUESTED


def held_asset(*, user, tag: str) -> Asset | None:
    """One asset by tag if ``user`` holds it (else None → 404)."""
    person = person_for(user)
    if person is None:
        return None
    return Asset.objects.select_related("model", "category").filter(holder=person, tag=tag).first()


def return_requests_open(*, limit: int = 200) -> list[AssetEvent]:
    """Return requests of held assets with no later event (nobody has acted on them yet),
    for clerks. Starts from the indexed ``transition`` column, oldest first."""
    later = AssetEvent.objects.filter(asset_id=OuterRef("asset_id")).filter(
        Q(occurred_at__gt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), id__gt=OuterRef("id"))
    )
    return list(
        AssetEvent.objects.filter(transition=RETURN_REQUESTED, asset__status__in=HELD_STATUSES)
        .filter(~Exists(later))
        .select_related("asset__holder", "actor")
        .order_by("occurred_at", "id")[:limit]
    )


# --- Unconfirmed assignments (for clerks) -------------------------------------------------


def handovers_unconfirmed(*, days: int | None = None) -> QuerySet[Handover]:
    """Handovers waiting for the employee's confirmation for more than ``days`` days."""
    days = settings.ASSIGNMENT_CONFIRM_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    return (
        Handover.objects.filter(
            needs_acceptance=True, accepted_at__isnull=True, created_at__lte=cutoff
        )
        .select_related("to_person__department", "to_department", "created_by", "location")
        .prefetch_related(
            Prefetch("events", queryset=AssetEvent.objects.select_related("asset").order_by("id"))
        )
        .order_by("created_at", "id")
    )
