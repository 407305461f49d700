"""Create and edit an asset (with its category's custom fields), and the model options of the
dependent category → model select.

HTMX: a POST from the form (``hx-post``) gets the form fragment again when invalid and an
``HX-Redirect`` to the detail page when valid; a plain POST is redirected. Choosing a model
asks ``assets:create`` for the custom-field block (``?model=<id>``, target ``custom-fields``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from .. import services
from ..forms import CF_PREFIX, AssetForm
from ..models import AssetModel, Category
from ..selectors import asset_get

TEMPLATE = "assets/asset_form.html"
CUSTOM_FIELDS_TARGET = "custom-fields"


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _is_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _model_from_query(request) -> AssetModel | None:
    raw = request.GET.get("model")
    if not raw:
        return None
    try:
        return AssetModel.objects.select_related("category", "manufacturer").get(pk=raw)
    except (AssetModel.DoesNotExist, ValueError):
        return None


def _custom_fields_partial(request, form):
    return render(request, f"{TEMPLATE}#custom-fields", {"form": form})


def _handle(request, *, asset=None):
    """The shared GET/POST logic of create and edit."""
    if request.method == "POST":
        form = AssetForm(request.POST, instance=asset, form_url=request.path)
        if form.is_valid():
            try:
                kwargs = form.service_arguments()
                if asset is None:
                    saved = services.asset_create(actor=request.user, **kwargs)
                else:
                    saved = services.asset_update(actor=request.user, asset=asset, **kwargs)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                url = saved.get_absolute_url()
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        initial = {key: value for key, value in request.GET.items() if key.startswith(CF_PREFIX)}
        form = AssetForm(
            instance=asset,
            model=_model_from_query(request),
            initial=initial,
            form_url=request.path,
        )
        if _is_fragment(request) and request.htmx.target == CUSTOM_FIELDS_TARGET:
            return _custom_fields_partial(request, form)

    context = {"form": form, "asset": asset}
    if request.method == "POST" and _is_fragment(request):
        return render(request, f"{TEMPLATE}#asset-form", context)
    return render(request, TEMPLATE, context)


@login_required
@require_http_methods(["GET", "POST"])
def asset_create(request):
    _require(request.user, "assets.add_asset")
    return _handle(request)


@login_required
@require_http_methods(["GET", "POST"])
def asset_edit(request, tag: str):
    _require(request.user, "assets.change_asset")
    asset = asset_get(user=request.user, tag=tag)
    if asset is None:
        raise Http404
    return _handle(request, asset=asset)


@login_required
@require_GET
def model_options(request):
    """``<option>``s of the active models of a category and its sub-categories."""
    user = request.user
    if not (user.has_perm("assets.add_asset") or user.has_perm("assets.change_asset")):
        raise PermissionDenied
    models = AssetModel.objects.select_related("manufacturer").filter(is_active=True)
    raw = request.GET.get("category")
    if raw:
        category = Category.objects.filter(pk=raw).first() if raw.isdigit() else None
        if category is None:
            models = models.none()
        else:
            models = models.filter(category__path__startswith=category.path)
    return render(
        request,
        "assets/partials/model_options.html",
        {"models": models, "selected": request.GET.get("model", "")},
    )
