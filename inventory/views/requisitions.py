"""Requisition pages (领用申请): employees request consumables, department heads approve or
reject them, keepers issue them from the warehouses they keep.

- ``/me/requisitions/`` (``me:requisitions``): my requisitions and the form for a new one,
  for myself or my department. The form's buttons post the whole form with what to do:
  ``action=search`` (the item box; an exact barcode or code adds the item at once, so a
  scanner works here too), ``add=<item id>`` (a search result), ``drop=<row>``,
  ``action=submit``. htmx gets the form partial back; without JavaScript the page.
- ``/inventory/requisitions/<pk>/``: the detail (lines requested, approved, issued; the issue
  documents), with cancel, approve / reject and issue where the user may.
- ``/inventory/requisitions/approvals/``: what the user's departments (and their
  sub-departments) asked for, to approve or reject in a dialog.
- ``/inventory/requisitions/``: the keeper's queue, approved requisitions with something to
  issue that the keeper's warehouses hold; ``<pk>/fulfil/`` issues them: a warehouse the
  keeper keeps, a quantity per line (part is fine), and a barcode box whose Enter counts one
  more of the scanned item (``action=scan``). ``action=issue`` posts one issue document
  through ``requisition_fulfil``; a shortage changes nothing and says what is missing where.

Authorisation: the employee pages need a staff record (Person) linked to the user (else 403);
a requisition the user may not see answers 404 (``selectors.requisition_get``), one they may
not decide or issue too. The approvals page is for heads of a department (and
administrators), the queue and fulfilment for keepers of at least one warehouse (else 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from assets.forms_workflow import DecisionForm
from assets.selectors import headed_department_ids, person_for
from assets.views.dialogs import done, form_dialog
from itassets.roles import ADMIN, has_role

from .. import selectors, services
from ..forms_requisitions import (
    FulfilForm,
    RequisitionForm,
    fulfil_fill,
    fulfil_quantities,
    fulfil_rows,
    fulfil_scan,
    item_search,
    request_add_item,
    request_lines_from_post,
)
from ..models import Document, Requisition, format_quantity
from ..services import DocumentInvalid, StockShortage
from .common import pager, paginate, vary_on_htmx, wants_fragment

MINE_TEMPLATE = "inventory/requisition_mine.html"
DETAIL_TEMPLATE = "inventory/requisition_detail.html"
APPROVALS_TEMPLATE = "inventory/requisition_approvals.html"
QUEUE_TEMPLATE = "inventory/requisition_queue.html"
FULFIL_TEMPLATE = "inventory/requisition_fulfil.html"
RESULTS_TEMPLATE = "inventory/partials/requisition_item_results.html"
CHANGED = "requisitionsChanged"
PER_PAGE = 20
State = Requisition.State


def _require_person(user):
    person = person_for(user)
    if person is None:
        raise PermissionDenied
    return person


# --- The requester: /me/requisitions/ ---------------------------------------------------------


def _mine_context(request, person, **extra) -> dict:
    page = paginate(selectors.requisitions_mine(user=request.user), request.GET, per_page=PER_PAGE)
    context = {
        "page": page,
        "pager": pager(page, reverse("me:requisitions"), []),
        "form": RequisitionForm(person=person),
        "rows": [],
        "results": None,
        "q": "",
        "notice": "",
        "general_errors": [],
    }
    context.update(extra)
    return context


def _form_response(request, person, **form_context):
    """The request form again (htmx: only its partial) after a line action or an error."""
    if wants_fragment(request):
        return render(request, f"{MINE_TEMPLATE}#requisition-form", form_context)
    return render(request, MINE_TEMPLATE, _mine_context(request, person, **form_context))


@login_required
@require_http_methods(["GET", "POST"])
def my_requisitions(request):
    """My requisitions (newest first, paginated) and the form for a new one."""
    person = _require_person(request.user)
    if request.method == "POST":
        return _request_post(request, person)
    context = _mine_context(request, person)
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{MINE_TEMPLATE}#requisition-list", context))
    return vary_on_htmx(render(request, MINE_TEMPLATE, context))


def _request_post(request, person):
    data = request.POST
    form = RequisitionForm(data, person=person)
    rows = request_lines_from_post(data)
    q = (data.get("q") or "").strip()
    notice, results, general = "", None, []
    if data.get("add", "").isdigit():
        item = selectors.item_get(pk=int(data["add"]))
        notice = request_add_item(rows, item) if item else _("This item does not exist.")
        q = ""
    elif data.get("drop", "").isdigit():  # not "remove": a control named so hides form.remove()
        index = int(data["drop"])
        if 0 <= index < len(rows):
            rows.pop(index)
    elif data.get("action") == "search" and q:
        exact = selectors.item_get(barcode=q)
        if exact is not None:  # a barcode or an item code: add it at once
            notice = request_add_item(rows, exact) or ""
            q = "" if not notice else q
        else:
            results = item_search(q)
            if not results:
                notice = _("No item matches “%(q)s”.") % {"q": q}
    elif data.get("action") == "submit" and form.is_valid():
        try:
            requisition = services.requisition_submit(
                actor=request.user,
                lines=[row.service_line() for row in rows],
                reason=form.cleaned_data["reason"],
                for_department=form.for_department,
            )
        except DocumentInvalid as exc:
            for index, errors in exc.line_errors.items():
                if index < len(rows):
                    rows[index].errors = [m for ms in errors.values() for m in ms]
            if not exc.line_errors:
                general = exc.message_dict.get("lines", [])
            form.add_service_errors(exc)
        except (ValidationError, PermissionDenied) as exc:
            general = list(getattr(exc, "messages", None) or [str(exc)])
        else:
            messages.success(
                request,
                _("Requisition #%(id)s submitted; your department head will decide on it.")
                % {"id": requisition.pk},
            )
            return done(
                request,
                url=reverse("me:requisitions"),
                event=CHANGED,
                regions=[f"{MINE_TEMPLATE}#requisition-form", f"{MINE_TEMPLATE}#requisition-list"],
                context=_mine_context(request, person),
            )
    return _form_response(
        request,
        person,
        form=form,
        rows=rows,
        results=results,
        q=q,
        notice=notice,
        general_errors=general,
    )


@login_required
@require_GET
def requisition_item_search(request):
    """The item picker's results (htmx, as the user types)."""
    _require_person(request.user)
    q = (request.GET.get("q") or "").strip()
    return render(request, RESULTS_TEMPLATE, {"results": item_search(q) if q else None, "q": q})


# --- Detail and cancel ------------------------------------------------------------------------


def _get_or_404(user, pk) -> Requisition:
    requisition = selectors.requisition_get(user=user, pk=pk)
    if requisition is None:
        raise Http404
    return requisition


def _may_cancel(requisition: Requisition, user) -> bool:
    """What ``requisition_cancel`` allows: the requester while submitted, approved or partly
    issued; a keeper once approved."""
    if requisition.requester.user_id == user.pk:
        return requisition.state in (State.SUBMITTED, State.APPROVED, State.PARTLY_ISSUED)
    return requisition.is_open and selectors.requisition_may_fulfil(user)


def _detail_context(request, requisition: Requisition) -> dict:
    user = request.user
    may_fulfil = (
        requisition.is_open
        and selectors.requisition_may_fulfil(user)
        and selectors.warehouses_managed(user=user).exists()
    )
    return {
        "requisition": requisition,
        "documents": list(
            requisition.documents.exclude(status=Document.Status.DRAFT)
            .select_related("warehouse__location")
            .order_by("id")
        ),
        "show_document_links": user.has_perm("inventory.view_document"),
        "approved": requisition.decided_at is not None and requisition.state != State.REJECTED,
        "may_cancel": _may_cancel(requisition, user),
        "may_decide": requisition.state == State.SUBMITTED
        and selectors.requisition_may_decide(requisition, user),
        "may_fulfil": may_fulfil,
    }


@login_required
@require_GET
def requisition_detail(request, pk: int):
    requisition = _get_or_404(request.user, pk)
    context = _detail_context(request, requisition)
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{DETAIL_TEMPLATE}#requisition-detail", context))
    return vary_on_htmx(render(request, DETAIL_TEMPLATE, context))


@login_required
@require_POST
def requisition_cancel(request, pk: int):
    """The requester withdraws, or a keeper closes what will not be issued (the service
    decides); from the list (``from=mine``) or the detail page."""
    requisition = _get_or_404(request.user, pk)
    if not _may_cancel(requisition, request.user):
        raise PermissionDenied
    try:
        services.requisition_cancel(
            requisition=requisition,
            actor=request.user,
            comment=(request.POST.get("comment") or "")[:2000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Requisition #%(id)s cancelled.") % {"id": requisition.pk})
    if request.POST.get("from") == "mine":
        person = _require_person(request.user)
        return done(
            request,
            url=reverse("me:requisitions"),
            event=CHANGED,
            regions=[f"{MINE_TEMPLATE}#requisition-list"],
            context=_mine_context(request, person),
        )
    fresh = _get_or_404(request.user, pk)
    return done(
        request,
        url=fresh.get_absolute_url(),
        event=CHANGED,
        regions=[f"{DETAIL_TEMPLATE}#requisition-detail"],
        context=_detail_context(request, fresh),
    )


# --- Department heads: approvals --------------------------------------------------------------


def _may_approve(user) -> bool:
    return has_role(user, ADMIN) or bool(headed_department_ids(person_for(user)))


def _approvals_context(request) -> dict:
    qs = selectors.requisitions_to_decide(user=request.user)
    page = paginate(qs, request.GET, per_page=PER_PAGE)
    return {"page": page, "pager": pager(page, reverse("inventory:requisition_approvals"), [])}


@login_required
@require_GET
def requisition_approvals(request):
    """Submitted requisitions of the departments the user heads (and their sub-departments)."""
    if not _may_approve(request.user):
        raise PermissionDenied
    context = _approvals_context(request)
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{APPROVALS_TEMPLATE}#approval-list", context))
    return vary_on_htmx(render(request, APPROVALS_TEMPLATE, context))


def lines_text(requisition: Requisition) -> str:
    return "\n".join(
        f"{line.item} × {format_quantity(line.quantity)} {line.item.unit}"
        for line in requisition.lines.all()
    )


def _summary(requisition: Requisition) -> list:
    for_whom = (
        _("The department (%(department)s)") % {"department": requisition.department}
        if requisition.for_department
        else _("Personal use")
    )
    return [
        (_("Requisition"), f"#{requisition.pk}"),
        (_("Requester"), requisition.requester),
        (_("Department"), requisition.department),
        (_("For"), for_whom),
        (_("Reason"), requisition.reason),
        (_("Items"), lines_text(requisition)),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def requisition_decide(request, pk: int):
    """Approve or reject (a dialog); from the approvals list or (``?from=detail``) the detail."""
    requisition = selectors.requisitions_to_decide(user=request.user).filter(pk=pk).first()
    if requisition is None:
        raise Http404
    from_detail = request.GET.get("from") == "detail"
    back_url = (
        requisition.get_absolute_url()
        if from_detail
        else reverse("inventory:requisition_approvals")
    )
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.requisition_decide(
                requisition=requisition,
                actor=request.user,
                approve=form.approve,
                comment=form.cleaned_data["comment"],
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            text = (
                _("Requisition #%(id)s approved.")
                if form.approve
                else _("Requisition #%(id)s rejected.")
            )
            messages.success(request, text % {"id": requisition.pk})
            if from_detail:
                fresh = _get_or_404(request.user, pk)
                regions = [f"{DETAIL_TEMPLATE}#requisition-detail"]
                context = _detail_context(request, fresh)
            else:
                regions = [f"{APPROVALS_TEMPLATE}#approval-list"]
                context = _approvals_context(request)
            return done(request, url=back_url, event=CHANGED, regions=regions, context=context)
    action = reverse("inventory:requisition_decide", args=[pk])
    return form_dialog(
        request,
        form=form,
        title=_("Approve the requisition"),
        action=f"{action}?from=detail" if from_detail else action,
        back_url=back_url,
        decision=True,
        summary=_summary(requisition),
    )


# --- Keepers: the queue and fulfilment --------------------------------------------------------


def _require_keeper(user) -> list:
    """The warehouses the user keeps (all for administrators); 403 for anyone else."""
    if not selectors.requisition_may_fulfil(user):
        raise PermissionDenied
    managed = list(selectors.warehouses_managed(user=user))
    if not managed:
        raise PermissionDenied
    return managed


def _chosen(managed: list, raw) -> object | None:
    raw = str(raw or "")
    return next((w for w in managed if str(w.pk) == raw), None)


@login_required
@require_GET
def requisition_queue(request):
    """Approved requisitions with something to issue that the keeper's warehouses (or the
    chosen one) hold, oldest first; ``all=1``: every open requisition."""
    managed = _require_keeper(request.user)
    warehouse = _chosen(managed, request.GET.get("warehouse"))
    show_all = request.GET.get("all") == "1"
    scope = [warehouse] if warehouse else managed
    qs = selectors.requisitions_to_fulfil(user=request.user, stocked_in=None if show_all else scope)
    page = paginate(qs, request.GET, per_page=PER_PAGE)
    selectors.requisition_availability(page.object_list, warehouses=scope)
    state = [("warehouse", str(warehouse.pk))] if warehouse else []
    if show_all:
        state.append(("all", "1"))
    context = {
        "page": page,
        "pager": pager(page, reverse("inventory:requisition_queue"), state),
        "managed": managed,
        "warehouse": warehouse,
        "show_all": show_all,
    }
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{QUEUE_TEMPLATE}#requisition-queue", context))
    return vary_on_htmx(render(request, QUEUE_TEMPLATE, context))


def _default_warehouse(requisition: Requisition, managed: list):
    """The first kept warehouse that holds everything still to issue, else the first."""
    selectors.requisition_availability([requisition], warehouses=managed)
    lines = [line for line in requisition.lines.all() if line.remaining > 0]
    for warehouse in managed:
        if all(line.available.get(warehouse.pk, 0) >= line.remaining for line in lines):
            return warehouse
    return managed[0]


def _fulfil_response(request, context: dict):
    if wants_fragment(request):
        return render(request, f"{FULFIL_TEMPLATE}#fulfil-form", context)
    return render(request, FULFIL_TEMPLATE, context)


@login_required
@require_http_methods(["GET", "POST"])
def requisition_fulfil(request, pk: int):
    """Issue (part of) an approved requisition from a warehouse the keeper keeps."""
    managed = _require_keeper(request.user)
    requisition = selectors.requisitions_to_fulfil(user=request.user).filter(pk=pk).first()
    if requisition is None:
        return _fulfil_closed(request, pk)
    managed_qs = selectors.warehouses_managed(user=request.user)
    error, notice = "", ""
    if request.method == "GET":
        warehouse = _chosen(managed, request.GET.get("warehouse")) or _default_warehouse(
            requisition, managed
        )
        form = FulfilForm(
            initial={"warehouse": warehouse.pk, "idempotency_key": FulfilForm.new_key()},
            managed=managed_qs,
        )
        rows = fulfil_rows(requisition)
    else:
        data = request.POST.copy()
        action = data.get("action", "")
        code = data.get("scan", "")
        data["scan"] = ""  # the box is emptied for the next scan
        form = FulfilForm(data, managed=managed_qs)
        rows = fulfil_rows(requisition, data)
        valid = form.is_valid()
        warehouse = form.cleaned_data.get("warehouse") if valid else None
        if action == "scan":
            changed, message = fulfil_scan(rows, code)
            error, notice = ("", message) if changed else (message, "")
        elif action == "fill":
            fulfil_fill(rows)
        elif action == "issue" and valid:
            wanted = fulfil_quantities(rows)
            if wanted == {}:
                error = _("Enter how many to issue on at least one line.")
            elif wanted is not None:
                try:
                    result = services.requisition_fulfil(
                        requisition=requisition,
                        actor=request.user,
                        warehouse=warehouse,
                        lines=wanted,
                        idempotency_key=form.cleaned_data["idempotency_key"] or None,
                        reason=form.cleaned_data["reason"],
                    )
                except StockShortage as exc:
                    error = exc.message_text
                except PermissionDenied as exc:
                    error = str(exc) or _("You are not allowed to issue from this warehouse.")
                except ValidationError as exc:
                    error = " ".join(exc.messages)
                else:
                    return _fulfilled(request, requisition, result)
    if warehouse is not None:
        selectors.requisition_availability([requisition], warehouses=[warehouse])
    else:
        for line in requisition.lines.all():
            line.available_total = None  # no valid warehouse chosen: nothing to show
    context = {
        "requisition": requisition,
        "form": form,
        "rows": rows,
        "warehouse": warehouse,
        "error": error,
        "notice": notice,
    }
    return _fulfil_response(request, context)


def _fulfil_closed(request, pk: int):
    """A requisition with nothing left to issue: a replayed issue (a double click on the one
    that closed it) answers like the first time; anything else is 404."""
    requisition = selectors.requisition_get(user=request.user, pk=pk)
    key = (request.POST.get("idempotency_key") or "").strip()
    if requisition is None or request.POST.get("action") != "issue" or not key:
        raise Http404
    try:
        result = services.requisition_fulfil(
            requisition=requisition,
            actor=request.user,
            warehouse=None,
            lines=[],
            idempotency_key=key,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        url = requisition.get_absolute_url()
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _fulfilled(request, requisition, result)


def _fulfilled(request, requisition: Requisition, result):
    requisition.refresh_from_db(fields=["state"])
    if result.posted:
        messages.success(
            request,
            _("%(message)s Requisition #%(id)s is now “%(state)s”.")
            % {
                "message": result.message,
                "id": requisition.pk,
                "state": requisition.get_state_display(),
            },
        )
    else:
        messages.info(request, result.message)
    url = requisition.get_absolute_url()
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
