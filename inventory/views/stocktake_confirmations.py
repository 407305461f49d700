"""Self-confirmation in asset stocktakes.

- ``/inventory/stocktakes/<pk>/confirmations/`` (managers; auditors and clerks read): how
  many assets not found yet could be confirmed by their holders, how many were asked and
  confirmed, the confirmations received; POST asks the holders (managers of asset
  stocktakes only, else 403).
- ``/me/stocktake-confirmations/`` (namespace ``me``: the self-service pages of both apps;
  needs a staff record, else 403): the assets the user is asked to confirm, each with "I have
  it" (optional photo and note). 我的资产 loads it into its page with ``hx-get`` (see
  templates/assets/asset_mine.html): the assets app references the URL by name only and
  imports nothing from inventory. POST ``…/<line>/`` confirms one; a line that is not the
  user's answers 404.
- ``…/lines/<line>/confirm-photo/``: the photo, for those who see the stocktake's report and
  for the holder who sent it (else 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assets.selectors import person_for
from assets.views.detail import _serve

from ..models_stocktake import Stocktake, StocktakeExpected
from ..selectors_stocktake import stocktake_get
from ..services.stocktake_confirmations import (
    confirmations_pending,
    stocktake_confirmations_request,
    stocktake_self_confirm,
)
from ..services.stocktakes import may_manage
from .common import pager, paginate, vary_on_htmx, wants_fragment

MINE_TEMPLATE = "inventory/stocktake_confirm_mine.html"
REQUESTS_TEMPLATE = "inventory/stocktake_confirm_requests.html"
PERM_VIEW = "inventory.view_stocktake"
CONFIRMED = "stocktakeConfirmed"
Result = StocktakeExpected.Result


# --- Managers ---------------------------------------------------------------------------------


def _asset_stocktake(request, pk: int) -> Stocktake:
    if not request.user.has_perm(PERM_VIEW):
        raise PermissionDenied
    try:
        stocktake = stocktake_get(user=request.user, pk=pk)
    except Stocktake.DoesNotExist:
        raise Http404 from None
    if stocktake.kind != Stocktake.Kind.ASSET:
        raise Http404
    return stocktake


def _requests_context(request, stocktake) -> dict:
    lines = StocktakeExpected.objects.filter(stocktake=stocktake).order_by()
    with_login = Q(expected_holder__user__isnull=False)
    counts = lines.aggregate(
        pending=Count("id", filter=Q(result=Result.PENDING)),
        askable=Count("id", filter=Q(result=Result.PENDING) & with_login),
        asked=Count("id", filter=Q(confirm_requested_at__isnull=False)),
        waiting=Count("id", filter=Q(confirm_requested_at__isnull=False, result=Result.PENDING)),
        confirmed=Count("id", filter=Q(method=StocktakeExpected.Method.SELF)),
        not_asked=Count(
            "id",
            filter=Q(result=Result.PENDING, confirm_requested_at__isnull=True) & with_login,
        ),
    )
    confirmed = (
        lines.filter(method=StocktakeExpected.Method.SELF)
        .select_related("asset", "expected_holder", "expected_location")
        .order_by("-confirmed_at", "-id")
    )
    page = paginate(confirmed, request.GET)
    base = reverse("inventory:stocktake_confirm_requests", args=[stocktake.pk])
    return {
        "stocktake": stocktake,
        "counts": counts,
        "confirmed": page.object_list,
        "pager": pager(page, base, []),
        "may_ask": stocktake.status == Stocktake.Status.COUNTING
        and may_manage(request.user, Stocktake.Kind.ASSET),
    }


@login_required
@require_http_methods(["GET", "POST"])
def confirm_requests(request, pk: int):
    """The manager's page: counts, confirmations received; POST asks the holders."""
    if request.method == "POST" and not may_manage(request.user, Stocktake.Kind.ASSET):
        raise PermissionDenied
    stocktake = _asset_stocktake(request, pk)
    if request.method == "POST":
        try:
            asked, holders = stocktake_confirmations_request(
                stocktake=stocktake, actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if asked:
                messages.success(
                    request,
                    _("%(n)s asset(s): %(holders)s holder(s) asked to confirm.")
                    % {"n": asked, "holders": holders},
                )
            else:
                messages.info(request, _("Nobody new to ask."))
        if not request.htmx:
            return redirect("inventory:stocktake_confirm_requests", pk=stocktake.pk)
        context = {**_requests_context(request, stocktake), "oob_messages": True}
        return render(request, f"{REQUESTS_TEMPLATE}#confirm-requests", context)
    context = _requests_context(request, stocktake)
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{REQUESTS_TEMPLATE}#confirm-requests", context))
    return vary_on_htmx(render(request, REQUESTS_TEMPLATE, context))


@login_required
@require_GET
def confirm_photo(request, pk: int, line_pk: int):
    """The photo sent with a confirmation (private storage)."""
    line = StocktakeExpected.objects.filter(pk=line_pk, stocktake_id=pk).first()
    if line is None or not line.confirm_photo:
        raise Http404
    person = person_for(request.user)
    own = person is not None and line.expected_holder_id == person.pk
    if not own:
        if not request.user.has_perm(PERM_VIEW):
            raise Http404
        try:
            stocktake_get(user=request.user, pk=pk)
        except Stocktake.DoesNotExist:
            raise Http404 from None
    name = line.confirm_photo.name
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "jpg"
    content_type = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(
        ext, f"image/{ext}"
    )
    return _serve(name, content_type=content_type, filename=f"{line.tag}.{ext}", inline=True)


# --- Holders (我的资产) --------------------------------------------------------------------------


def _require_person(user):
    person = person_for(user)
    if person is None:
        raise PermissionDenied
    return person


def _mine_context(request) -> dict:
    return {"pending": list(confirmations_pending(user=request.user))}


@login_required
@require_GET
def my_confirmations(request):
    """The assets the user is asked to confirm: a fragment for 我的资产, else a page."""
    _require_person(request.user)
    context = _mine_context(request)
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{MINE_TEMPLATE}#confirm-box", context))
    return vary_on_htmx(render(request, MINE_TEMPLATE, {**context, "standalone": True}))


@login_required
@require_POST
def my_confirm(request, line_pk: int):
    """ "I have it": confirm one asset (optional ``photo`` and ``note``)."""
    person = _require_person(request.user)
    line = StocktakeExpected.objects.filter(pk=line_pk, expected_holder=person).first()
    if line is None:
        raise Http404
    try:
        stocktake_self_confirm(
            line=line,
            actor=request.user,
            photo=request.FILES.get("photo"),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        messages.error(request, f"{line.tag}: {' '.join(exc.messages)}")
    else:
        messages.success(request, _("Thank you: %(tag)s confirmed.") % {"tag": line.tag})
    if not request.htmx:
        return redirect("me:assets")
    context = {**_mine_context(request), "oob_messages": True}
    response = render(request, f"{MINE_TEMPLATE}#confirm-box", context)
    response["HX-Trigger"] = CONFIRMED
    return response
