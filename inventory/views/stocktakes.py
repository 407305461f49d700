"""Stocktake pages (盘点): the list, the create and edit form, the detail page with live
progress per location and the assets not yet found, start / close / delete, and the phone
scanning page with its scan endpoint.

Authorisation:
- Pages need ``inventory.view_stocktake`` (administrators, clerks, keepers, auditors) or an
  assignment as counter; anyone else gets 403. A stocktake the user may not see is 404
  (``selectors_stocktake.stocktake_get`` applies the visibility).
- Create, edit, start, close, delete: managers of the stocktake's kind (clerks for assets,
  keepers for consumables, administrators for both; ``services.stocktakes.may_manage``).
- Scanning: counters assigned to the stocktake (the service checks it on every scan).

The scan endpoint is the hot path (``bench/stocktake.py``): it parses the POST and calls
``stocktake_scan`` without loading anything else; a JSON answer goes to the page's script, a
plain form POST (no JavaScript) gets the scanning page again with the result.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assets.models import Location

from .. import selectors_stocktake as selectors
from ..forms_stocktake import StocktakeForm
from ..models_stocktake import Stocktake, StocktakeCounter, StocktakeExpected, StocktakeScan
from ..services import stocktakes as services
from .common import pager, paginate, state_pairs, vary_on_htmx, wants_fragment

LIST_TEMPLATE = "inventory/stocktake_list.html"
FORM_TEMPLATE = "inventory/stocktake_form.html"
DETAIL_TEMPLATE = "inventory/stocktake_detail.html"
SCAN_TEMPLATE = "inventory/stocktake_scan.html"
FILTER_KEYS = ("q", "status", "kind")
PROGRESS_POLL_SECONDS = 5


def _require_access(user) -> None:
    """403 unless the user reads stocktakes or counts in one."""
    if user.has_perm(services.PERM_VIEW):
        return
    if not StocktakeCounter.objects.filter(user=user).exists():
        raise PermissionDenied


def _get(request, pk: int) -> Stocktake:
    _require_access(request.user)
    try:
        return selectors.stocktake_get(user=request.user, pk=pk)
    except Stocktake.DoesNotExist:
        raise Http404 from None


def _require_manage(user, stocktake: Stocktake) -> None:
    if not services.may_manage_stocktake(user, stocktake):
        raise PermissionDenied


def _url(name: str, pk: int) -> str | None:
    """A URL of the report / confirmation / count sheet pages, None while they do not exist."""
    try:
        return reverse(f"inventory:{name}", args=[pk])
    except NoReverseMatch:
        return None


# --- List -------------------------------------------------------------------------------------


def _filters(params) -> dict:
    status = params.get("status", "")
    kind = params.get("kind", "")
    return {
        "q": params.get("q", "").strip()[:100],
        "status": status if status in Stocktake.Status.values else "",
        "kind": kind if kind in Stocktake.Kind.values else "",
    }


@login_required
@require_GET
def stocktake_list(request):
    """``/inventory/stocktakes/``: the stocktakes the user may see, newest first."""
    _require_access(request.user)
    filters = _filters(request.GET)
    page = paginate(selectors.stocktake_list(user=request.user, filters=filters), request.GET)
    stocktakes = list(page.object_list)
    found = selectors.found_counts([s.pk for s in stocktakes])
    for stocktake in stocktakes:
        stocktake.found = found.get(stocktake.pk, 0)
    base = reverse("inventory:stocktake_list")
    pairs = state_pairs(request.GET, FILTER_KEYS)
    context = {
        "stocktakes": stocktakes,
        "filters": filters,
        "statuses": Stocktake.Status.choices,
        "kinds": Stocktake.Kind.choices,
        "pager": pager(page, base, pairs),
        "filtered": bool(pairs),
        "may_create": any(services.may_manage(request.user, k) for k in Stocktake.Kind.values),
        "to_count": list(selectors.stocktakes_to_count(user=request.user)[:10]),
    }
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{LIST_TEMPLATE}#stocktake-table", context))
    return vary_on_htmx(render(request, LIST_TEMPLATE, context))


# --- Create and edit --------------------------------------------------------------------------


def _save(request, form: StocktakeForm, stocktake: Stocktake | None):
    data = form.cleaned_data
    kind = stocktake.kind if stocktake is not None else data["kind"]
    assets = kind == Stocktake.Kind.ASSET  # only the chosen kind's scope is kept
    common = {
        "actor": request.user,
        "name": data["name"],
        "counters": form.counter_entries(),
        "deadline": data.get("deadline"),
        "note": data.get("note", ""),
        "locations": data.get("locations") if assets else (),
        "departments": data.get("departments") if assets else (),
        "categories": data.get("categories") if assets else (),
        "warehouses": () if assets else data.get("warehouses"),
        "item_categories": () if assets else data.get("item_categories"),
    }
    if stocktake is None:
        return services.stocktake_create(kind=kind, **common)
    return services.stocktake_update(stocktake=stocktake, **common)


@login_required
@require_http_methods(["GET", "POST"])
def stocktake_create(request):
    """``/inventory/stocktakes/new/``: a draft with scope, counters and deadline."""
    if not any(services.may_manage(request.user, k) for k in Stocktake.Kind.values):
        raise PermissionDenied
    return _form_page(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def stocktake_edit(request, pk: int):
    stocktake = _get(request, pk)
    _require_manage(request.user, stocktake)
    if stocktake.is_read_only:
        raise PermissionDenied
    return _form_page(request, stocktake)


def _form_page(request, stocktake: Stocktake | None):
    form = StocktakeForm(request.POST or None, user=request.user, stocktake=stocktake)
    if request.method == "POST" and form.is_valid():
        try:
            saved = _save(request, form, stocktake)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("You are not allowed to manage this stocktake."))
        else:
            messages.success(request, _("Stocktake “%(name)s” saved.") % {"name": saved.name})
            return redirect(saved.get_absolute_url())
    return render(request, FORM_TEMPLATE, {"form": form, "stocktake": stocktake})


# --- Detail, progress, not-found lists --------------------------------------------------------


def _missing_context(request, stocktake: Stocktake) -> dict:
    raw = request.GET.get("location", "")
    if raw == "none":
        location_id = None
    else:
        try:
            location_id = int(raw)
        except ValueError:
            return {}
    name = _("No location")
    if location_id is not None:
        name = Location.objects.filter(pk=location_id).values_list("full_name", flat=True).first()
        if name is None:
            return {}
    return {
        "missing_location": raw,
        "missing_location_name": name,
        "missing_lines": selectors.stocktake_not_found(
            stocktake=stocktake, location_id=location_id
        ),
        "missing_limit": selectors.NOT_FOUND_LIMIT,
    }


@login_required
@require_GET
def stocktake_detail(request, pk: int):
    """``/inventory/stocktakes/<pk>/``: scope, counters, actions and live progress. An htmx
    request gets the progress fragment (polled while counting), or with ``?location=`` the
    assets of that location not found yet."""
    stocktake = _get(request, pk)
    user = request.user
    is_asset = stocktake.kind == Stocktake.Kind.ASSET
    context = {
        "stocktake": stocktake,
        "poll_seconds": PROGRESS_POLL_SECONDS,
        "is_asset": is_asset,
    }
    if is_asset and stocktake.status != Stocktake.Status.DRAFT:
        context["progress"] = selectors.stocktake_progress(stocktake=stocktake)
    fragment = wants_fragment(request)
    if "location" in request.GET:
        context.update(_missing_context(request, stocktake))
        if fragment:
            return vary_on_htmx(render(request, f"{DETAIL_TEMPLATE}#stocktake-missing", context))
    elif fragment:
        return vary_on_htmx(render(request, f"{DETAIL_TEMPLATE}#stocktake-progress", context))
    manages = services.may_manage_stocktake(user, stocktake)
    status = stocktake.status
    context.update(
        {
            "scope": selectors.stocktake_scope(stocktake=stocktake),
            "may_manage": manages,
            "may_edit": manages and not stocktake.is_read_only,
            "may_start": manages and status == Stocktake.Status.DRAFT,
            "may_close": manages and status == Stocktake.Status.COUNTING,
            "may_delete": manages and status == Stocktake.Status.DRAFT,
            "may_scan": is_asset
            and status == Stocktake.Status.COUNTING
            and selectors.is_counter(stocktake=stocktake, user=user),
            "report_url": _url("stocktake_report", pk)
            if is_asset and stocktake.is_read_only
            else None,
            "confirm_url": _url("stocktake_confirm_requests", pk)
            if is_asset and manages and status == Stocktake.Status.COUNTING
            else None,
            "sheets_url": _url("stocktake_sheets", pk)
            if not is_asset and status != Stocktake.Status.DRAFT
            else None,
        }
    )
    return vary_on_htmx(render(request, DETAIL_TEMPLATE, context))


# --- Start, close, delete ---------------------------------------------------------------------


def _action(request, pk: int, service, done: str):
    stocktake = _get(request, pk)
    _require_manage(request.user, stocktake)
    try:
        service(actor=request.user, stocktake=stocktake)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        text = done(stocktake) if callable(done) else done
        messages.success(request, text % {"name": stocktake.name})
    return stocktake


@login_required
@require_POST
def stocktake_start(request, pk: int):
    stocktake = _action(
        request,
        pk,
        services.stocktake_start,
        _("Stocktake “%(name)s” started: the expected list is frozen."),
    )
    return redirect(stocktake.get_absolute_url())


@login_required
@require_POST
def stocktake_close(request, pk: int):
    stocktake = _action(
        request,
        pk,
        services.stocktake_close,
        lambda stocktake: (
            _("Stocktake “%(name)s” closed: assets not found are missing.")
            if stocktake.kind == Stocktake.Kind.ASSET
            else _("Stocktake “%(name)s” closed: the count differences are posted.")
        ),
    )
    return redirect(stocktake.get_absolute_url())


@login_required
@require_POST
def stocktake_delete(request, pk: int):
    stocktake = _action(
        request, pk, services.stocktake_delete, _("Draft stocktake “%(name)s” deleted.")
    )
    if Stocktake.objects.filter(pk=stocktake.pk).exists():
        return redirect(stocktake.get_absolute_url())
    return redirect("inventory:stocktake_list")


# --- Scanning ---------------------------------------------------------------------------------


def _wants_json(request) -> bool:
    # META directly: request.headers would first copy every header of the request.
    return "application/json" in request.META.get("HTTP_ACCEPT", "")


def _scan_page(request, stocktake: Stocktake, *, outcome=None, error: str = "", status=200):
    user = request.user
    locations = selectors.scan_locations(stocktake=stocktake, user=user)
    chosen = request.POST.get("location") or request.GET.get("location") or ""
    context = {
        "stocktake": stocktake,
        "locations": locations,
        "chosen_location": chosen,
        "scan_id": uuid.uuid4(),
        "outcome": outcome,
        "error": error,
        "recent": selectors.recent_scans(stocktake=stocktake, user=user),
        "counting": stocktake.status == Stocktake.Status.COUNTING
        and stocktake.kind == Stocktake.Kind.ASSET,
        "results": StocktakeScan.Result,
    }
    return render(request, SCAN_TEMPLATE, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def stocktake_scan(request, pk: int):
    """``/inventory/stocktakes/<pk>/scan/``: the counter's phone page; a POST records one
    scan (``scan_id``, ``code``, ``location``; optional ``holder``, ``note``, ``photo``)."""
    if request.method == "POST" and _wants_json(request):
        return _scan_json(request, pk)
    stocktake = _get(request, pk)
    if not selectors.is_counter(stocktake=stocktake, user=request.user):
        raise PermissionDenied
    if request.method == "GET":
        return _scan_page(request, stocktake)
    try:
        outcome = _record(request, pk)
    except (ValidationError, PermissionDenied) as exc:
        return _scan_page(request, stocktake, error=_message(exc), status=400)
    return _scan_page(request, stocktake, outcome=outcome)


def _record(request, pk: int):
    post = request.POST
    return services.stocktake_scan(
        actor=request.user,
        stocktake_id=pk,
        scan_id=post.get("scan_id"),
        code=post.get("code", ""),
        location_id=post.get("location"),
        holder=post.get("holder") or None,
        note=post.get("note", ""),
        photo=request.FILES.get("photo"),
    )


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You are not a counter of this stocktake.")


def _scan_json(request, pk: int) -> JsonResponse:
    """The scanning page's script: one small JSON answer, no page rendering."""
    try:
        outcome = _record(request, pk)
    except Stocktake.DoesNotExist:
        return JsonResponse({"error": _("No such stocktake.")}, status=404)
    except PermissionDenied as exc:
        return JsonResponse({"error": _message(exc), "code": "not_counter"}, status=403)
    except ValidationError as exc:
        return JsonResponse(
            {"error": _message(exc), "code": getattr(exc, "code", None) or "invalid"},
            status=400,
        )
    return JsonResponse(outcome.as_dict())


@login_required
@require_POST
def stocktake_confirm_holder(request, pk: int):
    """The counter names the real holder of a scanned asset (JSON for the script)."""
    try:
        line = services.stocktake_confirm_holder(
            actor=request.user,
            stocktake_id=pk,
            line_id=int(request.POST.get("line") or 0),
            holder=(request.POST.get("holder") or "").strip() or None,
        )
    except (Stocktake.DoesNotExist, StocktakeExpected.DoesNotExist, ValueError):
        return JsonResponse({"error": _("No such stocktake line.")}, status=404)
    except PermissionDenied as exc:
        return JsonResponse({"error": _message(exc)}, status=403)
    except ValidationError as exc:
        return JsonResponse({"error": _message(exc)}, status=400)
    return JsonResponse(
        {
            "result": line.result,
            "label": line.get_result_display(),
            "colour": line.result_badge,
            "message": _("Holder recorded: %(holder)s.") % {"holder": line.observed_holder.name},
        }
    )
