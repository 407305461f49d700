"""Lifecycle pages: a transition's form for one asset (a ``<dialog>`` on the detail page, a page
of its own without JavaScript), bulk transitions for a selection of the list, the handover
receipt PDF, and the repair orders.

Authorisation: the asset must be in the user's data scope (else 404, the same answer as for
a tag that does not exist), then the transition's permission (else 403). Writes go through
``assets.services``: ``asset_transition`` / ``asset_transition_bulk``, or
``approvals.approval_request`` for the transitions that need approval.

htmx: GET → the dialog; POST invalid → the dialog again (200, so htmx swaps it); POST valid →
the dialog slot emptied, ``#asset-detail`` and the messages swapped out of band and an
``assetChanged`` event (``dialogs.done``). A plain POST is redirected to the asset.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from itassets.roles import ROLES

from .. import services
from ..lifecycle import STATUS_BADGE, TRANSITIONS, Status, Transition, available
from ..models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetRequest,
    Handover,
    RepairOrder,
    Supplier,
)
from ..selectors import asset_get, asset_queryset, asset_scope_q, person_for
from ..services.lifecycle import PLACEMENT_FIELDS
from .dialogs import done, is_fragment

TEMPLATE = "assets/asset_transition.html"
BULK_TEMPLATE = "assets/asset_bulk_transition.html"
REPAIR_LIST_TEMPLATE = "assets/repairorder_list.html"
REPAIR_DETAIL_TEMPLATE = "assets/repairorder_detail.html"
DETAIL_TEMPLATE = "assets/asset_detail.html"
CHANGED = "assetChanged"
BULK_TRANSITIONS = (
    "assign",
    "transfer",
    "relocate",
    "return",
    "send_to_repair",
    "request_disposal",
)
BULK_MAX = 200
TIMELINE_LIMIT = 50
REPAIRS_ON_DETAIL = 5
REPAIRS_PER_PAGE = 50
REPAIR_PERMISSION = "assets.view_repairorder"
# Events other services write without a status change (self-service).
OTHER_EVENT_LABELS = {
    "return_requested": gettext_lazy("Return requested"),
    "create": gettext_lazy("Created"),
    "import": gettext_lazy("Imported"),
}
# Events that open an approval (the timeline lists its decisions under them).
APPROVAL_EVENTS = ("request_disposal", "repair_failed", "report_lost")
# Payload keys the timeline shows, with their labels (values: JSON as the service wrote it).
PAYLOAD_LABELS = {
    "holder": gettext_lazy("User"),
    "department": gettext_lazy("Using department"),
    "location": gettext_lazy("Location"),
    "due_date": gettext_lazy("Due date"),
    "received_on": gettext_lazy("Date"),
    "condition": gettext_lazy("Condition"),
    "repair_order": gettext_lazy("Repair order"),
    "vendor": gettext_lazy("Repair vendor"),
    "fault": gettext_lazy("Fault description"),
    "reported_by": gettext_lazy("Reported by"),
    "asset_request": gettext_lazy("Asset request"),
    "expected_cost": gettext_lazy("Expected cost (CNY)"),
    "actual_cost": gettext_lazy("Actual cost (CNY)"),
    "result": gettext_lazy("Result"),
    "reason": gettext_lazy("Reason"),
    "method_label": gettext_lazy("Disposal method"),
    "proceeds": gettext_lazy("Proceeds (CNY)"),
    "disposed_on": gettext_lazy("Disposed on"),
    "certificate": gettext_lazy("Certificate"),
}


# --- Shared helpers ---------------------------------------------------------------------------


def _transition_or_404(name: str) -> Transition:
    t = TRANSITIONS.get(name)
    if t is None or t.internal:
        raise Http404
    return t


def _visible_asset(user, tag: str) -> Asset:
    asset = asset_get(user=user, tag=tag)
    if asset is None:
        raise Http404
    return asset


def _form_class(t: Transition):
    return import_string(t.form)


def _run(*, asset: Asset, t: Transition, actor, note: str, data: dict):
    """One transition, or the approval request of one that needs approval."""
    if t.needs_approval:
        from ..services.approvals import approval_request

        return approval_request(asset=asset, transition=t.name, actor=actor, reason=note, data=data)
    return services.asset_transition(
        asset=asset, transition=t.name, actor=actor, note=note, data=data
    )


def _success_message(t: Transition, asset: Asset) -> str:
    if t.needs_approval:
        return _("%(tag)s: the request “%(transition)s” was submitted for approval.") % {
            "tag": asset.tag,
            "transition": t.label,
        }
    return _("%(tag)s: “%(transition)s” done; the asset is now “%(status)s”.") % {
        "tag": asset.tag,
        "transition": t.label,
        "status": asset.get_status_display(),
    }


# --- Detail page: buttons, timeline, repairs --------------------------------------------------


@dataclass
class TimelineEntry:
    event: AssetEvent
    label: str
    from_label: str
    to_label: str
    to_badge: str
    actor_label: str
    details: list[tuple[str, str]]
    can_accept: bool

    @property
    def changes_status(self) -> bool:
        return self.event.from_status != self.event.to_status


def _payload_text(value) -> str:
    if isinstance(value, dict):
        return str(value.get("name", value.get("id", "")))
    if value is None or value == "":
        return ""
    return str(value)


def _details(payload: dict) -> list[tuple[str, str]]:
    """(label, text) lines: placement changes as "before → after", then the form's data."""
    out = []
    before, after = payload.get("from") or {}, payload.get("to") or {}
    moved = [k for k in PLACEMENT_FIELDS if before.get(k) != after.get(k)]
    for key in moved:
        old, new = _payload_text(before.get(key)) or "—", _payload_text(after.get(key)) or "—"
        out.append((str(PAYLOAD_LABELS[key]), f"{old} → {new}"))
    for key, label in PAYLOAD_LABELS.items():
        if key in PLACEMENT_FIELDS and before:  # shown above as before → after
            continue
        text = _payload_text(payload.get(key))
        if text:
            out.append((str(label), text))
    return out


def _person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _payload_id(event: AssetEvent, key: str) -> int | None:
    value = (event.payload or {}).get(key)
    return value.get("id") if isinstance(value, dict) else None


def _decision_details(events: list[AssetEvent]) -> dict[int, list[tuple[str, str]]]:
    """Who decided what, per event: the steps of the approval an approval-opening event
    started, and the department head's approval of the asset request an assignment
    fulfilled. At most two queries, none without such events."""
    approvals = {
        e.pk: _payload_id(e, "approval") for e in events if e.transition in APPROVAL_EVENTS
    }
    requests = {e.pk: _payload_id(e, "asset_request") for e in events}
    lines: dict[int, list[tuple[str, str]]] = {}
    steps: dict[int, list[ApprovalStep]] = {}
    wanted = {i for i in approvals.values() if i}
    if wanted:
        for step in (
            ApprovalStep.objects.filter(request_id__in=wanted)
            .exclude(decision=ApprovalStep.Decision.PENDING)
            .select_related("decided_by")
            .order_by("number")
        ):
            steps.setdefault(step.request_id, []).append(step)
    for event_id, approval_id in approvals.items():
        for step in steps.get(approval_id, []):
            role = ROLES.get(step.role)
            text = str(step.get_decision_display())
            if step.decided_by is not None:
                text += f" · {_person_name(step.decided_by)}"
            if step.comment:
                text += f": {step.comment}"
            lines.setdefault(event_id, []).append((str(role.label if role else step.role), text))
    wanted = {i for i in requests.values() if i}
    if wanted:
        decided = {
            r.pk: r
            for r in AssetRequest.objects.filter(pk__in=wanted, decided_by__isnull=False)
            .select_related("decided_by")
            .only("decided_by", "decision_comment")
        }
        for event_id, request_id in requests.items():
            r = decided.get(request_id)
            if r is not None:
                text = _person_name(r.decided_by)
                if r.decision_comment:
                    text += f": {r.decision_comment}"
                lines.setdefault(event_id, []).append((_("Request approved by"), text))
    return lines


def asset_timeline(*, asset: Asset, user, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """The asset's lifecycle events, newest first (one query; up to two more for the
    decisions of approvals and asset requests the events refer to)."""
    events = list(
        asset.events.select_related("actor", "handover", "handover__to_person").order_by(
            "-occurred_at", "-id"
        )[:limit]
    )
    decisions = _decision_details(events)
    statuses = dict(Status.choices)
    entries = []
    for e in events:
        t = TRANSITIONS.get(e.transition)
        label = t.label if t else OTHER_EVENT_LABELS.get(e.transition, e.transition)
        h = e.handover
        entries.append(
            TimelineEntry(
                event=e,
                label=str(label),
                from_label=str(statuses.get(e.from_status, e.from_status or "—")),
                to_label=str(statuses.get(e.to_status, e.to_status)),
                to_badge=STATUS_BADGE.get(e.to_status, "secondary"),
                actor_label=(e.actor.get_full_name() or e.actor.get_username())
                if e.actor
                else _("System"),
                details=_details(e.payload or {}) + decisions.get(e.pk, []),
                can_accept=bool(
                    h
                    and h.needs_acceptance
                    and h.accepted_at is None
                    and h.to_person is not None
                    and h.to_person.user_id == user.pk
                ),
            )
        )
    return entries


def _buttons(user, asset: Asset) -> list[Transition]:
    """The transitions the user may start from the asset's status (dispose only once the
    disposal request is approved)."""
    buttons = [t for t in available(asset.status) if user.has_perm(t.permission)]
    if any(t.name == "dispose" for t in buttons):
        latest = (
            ApprovalRequest.objects.filter(asset=asset, transition="request_disposal")
            .values_list("state", flat=True)
            .first()
        )
        if latest != ApprovalRequest.State.APPROVED:
            buttons = [t for t in buttons if t.name != "dispose"]
    return buttons


def lifecycle_context(request, asset: Asset) -> dict:
    """What the detail page shows of the lifecycle: buttons, timeline, repair costs."""
    user = request.user
    # Costs roll up from every repair order of the asset; the latest few are listed.
    totals = asset.repairs.aggregate(count=Count("id"), cost=Sum("actual_cost"))
    repairs = []
    if totals["count"]:
        repairs = list(
            asset.repairs.select_related("vendor").order_by("-reported_at", "-id")[
                :REPAIRS_ON_DETAIL
            ]
        )
    return {
        "transitions": _buttons(user, asset),
        "timeline": asset_timeline(asset=asset, user=user),
        "repairs": repairs,
        "repair_totals": totals,
        "can_view_repairs": user.has_perm(REPAIR_PERMISSION),
    }


def _detail_region_context(request, asset: Asset) -> dict:
    from .detail import _detail_context

    fresh = asset_get(user=request.user, tag=asset.tag) or asset
    return _detail_context(request, fresh)


# --- One asset --------------------------------------------------------------------------------


def _render_form(request, *, asset: Asset, t: Transition, form, status: int = 200):
    context = {
        "asset": asset,
        "transition": t,
        "form": form,
        "action": reverse("assets:transition", args=[asset.tag, t.name]),
        "blocked": asset.status not in t.sources,
        "in_dialog": is_fragment(request),
    }
    if context["in_dialog"]:
        return render(request, f"{TEMPLATE}#dialog", context, status=status)
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def asset_transition(request, tag: str, transition: str):
    """GET: the transition's form; POST: run it."""
    t = _transition_or_404(transition)
    asset = _visible_asset(request.user, tag)
    if not request.user.has_perm(t.permission):
        raise PermissionDenied
    form_class = _form_class(t)
    if request.method != "POST":
        return _render_form(request, asset=asset, t=t, form=form_class(asset=asset, transition=t))

    form = form_class(request.POST, request.FILES, asset=asset, transition=t)
    if form.is_valid():
        try:
            _run(asset=asset, t=t, actor=request.user, **form.service_arguments())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            asset.refresh_from_db(fields=["status"])
            messages.success(request, _success_message(t, asset))
            if not request.htmx:
                return redirect(asset)
            return done(
                request,
                url=asset.get_absolute_url(),
                event=CHANGED,
                regions=[f"{DETAIL_TEMPLATE}#asset-detail"],
                context=_detail_region_context(request, asset),
            )
    return _render_form(request, asset=asset, t=t, form=form)


# --- Bulk -------------------------------------------------------------------------------------


def _bulk_selection(request) -> tuple[list[Asset], list[str]]:
    """The selected assets in the user's scope and the tags that are not (unknown/hidden)."""
    source = request.POST if request.method == "POST" else request.GET
    tags = list(dict.fromkeys(t.strip() for t in source.getlist("tags") if t.strip()))
    if len(tags) > BULK_MAX:
        raise ValidationError(
            _("Select at most %(max)s assets at a time.") % {"max": BULK_MAX}, code="too_many"
        )
    found = list(
        asset_queryset(user=request.user)
        .filter(tag__in=tags)
        .select_related("holder", "department", "location")
        .order_by("tag")
    )
    known = {a.tag for a in found}
    return found, [t for t in tags if t not in known]


@login_required
@require_http_methods(["GET", "POST"])
def asset_transition_bulk(request, transition: str):
    """A transition for the assets selected on the list (``tags``): all of them or none."""
    if transition not in BULK_TRANSITIONS:
        raise Http404
    t = TRANSITIONS[transition]
    if not request.user.has_perm(t.permission):
        raise PermissionDenied
    form_class = _form_class(t)
    errors: dict[str, list[str]] = {}
    try:
        assets, missing = _bulk_selection(request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("assets:list")
    for tag in missing:
        errors[tag] = [_("No such asset, or you may not see it.")]

    # The selection comes by GET from the list; the form itself posts with "confirm".
    if request.method == "POST" and "confirm" in request.POST:
        form = form_class(request.POST, request.FILES, asset=None, transition=t)
        if form.is_valid() and not errors:
            try:
                services.asset_transition_bulk(
                    assets=assets, transition=t.name, actor=request.user, **form.service_arguments()
                )
            except ValidationError as exc:
                tags = {a.tag for a in assets}
                if hasattr(exc, "error_dict") and set(exc.error_dict) <= tags:
                    errors = dict(exc.message_dict)
                else:
                    form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("“%(transition)s” done for %(count)s assets.")
                    % {"transition": t.label, "count": len(assets)},
                )
                url = reverse("assets:list")
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
    else:
        form = form_class(asset=None, transition=t)
    rows = [
        {
            "asset": a,
            "possible": a.status in t.sources,
            "errors": errors.get(a.tag, []),
        }
        for a in assets
    ]
    context = {
        "transition": t,
        "form": form,
        "rows": rows,
        "missing": [(tag, errors[tag]) for tag in missing],
        "errors": errors,
        "action": reverse("assets:bulk", args=[t.name]),
    }
    if is_fragment(request):
        return render(request, f"{BULK_TEMPLATE}#bulk-form", context)
    return render(request, BULK_TEMPLATE, context)


# --- Handover receipt -------------------------------------------------------------------------


def _visible_handover(user, pk: int) -> Handover:
    handover = (
        Handover.objects.select_related(
            "from_person", "from_department", "to_person", "to_department", "location"
        )
        .filter(pk=pk)
        .first()
    )
    if handover is None:
        raise Http404
    person = person_for(user)
    party = person is not None and person.pk in (handover.from_person_id, handover.to_person_id)
    if not party:
        visible = asset_queryset(user=user).filter(events__handover=handover).exists()
        if not visible:
            raise Http404
    return handover


@login_required
@require_GET
def handover_pdf(request, pk: int):
    """The receipt as stored when it was made (or rendered now if storing it failed)."""
    from ..handover_pdf import render_handover
    from .detail import _serve

    handover = _visible_handover(request.user, pk)
    filename = f"{handover.number}.pdf"
    if handover.pdf:
        return _serve(
            handover.pdf.name, content_type="application/pdf", filename=filename, inline=True
        )
    response = HttpResponse(render_handover(handover), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- Repair orders ----------------------------------------------------------------------------


def _require_repairs(user) -> None:
    if not user.has_perm(REPAIR_PERMISSION):
        raise PermissionDenied


def _repair_queryset(user):
    qs = RepairOrder.objects.all()
    q = asset_scope_q(user)
    if q is None:
        return qs.none()
    if q:
        qs = qs.filter(asset__in=Asset.objects.filter(q).values("id"))
    return qs


@login_required
@require_GET
def repair_list(request):
    """Repair orders, newest first; filters: state, vendor, asset tag / order number."""
    _require_repairs(request.user)
    qs = _repair_queryset(request.user).select_related("asset", "vendor", "reported_by")
    state = request.GET.get("state", "")
    if state in RepairOrder.State.values:
        qs = qs.filter(state=state)
    else:
        state = ""
    vendor = request.GET.get("vendor", "")
    if vendor.isdigit():
        qs = qs.filter(vendor_id=int(vendor))
    else:
        vendor = ""
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(number__istartswith=q) | Q(asset__tag__istartswith=q))
    page = Paginator(qs.order_by("-reported_at", "-id"), REPAIRS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "orders": list(page.object_list),
        "states": RepairOrder.State.choices,
        "state": state,
        "vendors": Supplier.objects.filter(
            id__in=RepairOrder.objects.exclude(vendor=None).values("vendor_id")
        ).order_by("name"),
        "vendor": vendor,
        "q": q,
        "query": query.urlencode(),
    }
    if is_fragment(request):
        return render(request, f"{REPAIR_LIST_TEMPLATE}#repair-table", context)
    return render(request, REPAIR_LIST_TEMPLATE, context)


@login_required
@require_GET
def repair_detail(request, pk: int):
    _require_repairs(request.user)
    order = (
        _repair_queryset(request.user)
        .select_related("asset", "asset__holder", "asset__department", "vendor", "reported_by")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404
    events = list(
        AssetEvent.objects.filter(asset_id=order.asset_id, payload__repair_order__id=order.pk)
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
    context = {
        "order": order,
        "attachments": list(order.attachments.select_related("uploaded_by")),
        "events": [
            (e, TRANSITIONS[e.transition].label if e.transition in TRANSITIONS else e.transition)
            for e in events
        ],
    }
    return render(request, REPAIR_DETAIL_TEMPLATE, context)
