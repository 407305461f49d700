"""JSON endpoints for barcode scanners and scripts, on the session login.

``POST /inventory/api/issue/`` creates and posts an issue document (出库) in one step: a
keeper's handheld scanner (or a page's script) sends the warehouse, the recipient and what
was scanned. It is an ordinary Django view: session cookie, CSRF token (``X-CSRFToken``
header), permissions ``inventory.add_document`` and ``inventory.post_document``, and the
keeper must keep the warehouse. Answers:

- 200 ``{"ok": true, "posted": true, "number": "CK-20261121-0001", "message": ...}``;
  a replay of the same ``Idempotency-Key`` answers 200 with ``"posted": false`` and the
  first document, changing nothing;
- 409 ``{"ok": false, "code": "insufficient_stock", "message": ...}`` when a balance would
  go below zero (nothing saved);
- 400 ``{"ok": false, "code": "invalid", "message": ..., "errors": {field: [...]}}``;
- 401 / 403 when not signed in / not allowed.

``GET /inventory/api/items/<id>/ledger/?warehouse=&before=&after=`` answers a page of an
item's ledger (keyset pagination, see ``selectors.ledger_page``).
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from assets.models import Person

from . import selectors, services
from .models import format_quantity

ISSUE_PERMISSIONS = ("inventory.add_document", "inventory.post_document")
MAX_BODY = 256 * 1024


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"ok": False, "code": code, "message": message, **extra}, status=status)


def _payload(request) -> dict:
    """The request's fields from a JSON body or a form."""
    if request.content_type == "application/json":
        if len(request.body) > MAX_BODY:
            raise ValidationError(_("The request is too large."))
        try:
            data = json.loads(request.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValidationError(_("The request body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise ValidationError(_("The request body must be a JSON object."))
        return data
    return {key: request.POST.get(key) for key in request.POST}


def _person(data: dict):
    """The recipient by id (``person``) or employee number (``employee_no``, a badge scan)."""
    employee_no = str(data.get("employee_no") or "").strip()
    if employee_no:
        person = Person.objects.filter(employee_no=employee_no).first()
        if person is None:
            raise ValidationError(
                {"person": [_("No employee has the number “%(no)s”.") % {"no": employee_no}]}
            )
        return person
    return data.get("person") or None


def _lines(data: dict) -> list[dict]:
    lines = data.get("lines")
    if isinstance(lines, list):
        return [line for line in lines if isinstance(line, dict)]
    line = {"quantity": data.get("quantity")}
    if data.get("item"):
        line["item"] = data["item"]
    else:
        line["barcode"] = data.get("barcode") or data.get("code") or ""
    return [line]


def _errors(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {"__all__": exc.messages}


@require_POST
def issue(request):
    """Create and post an issue document from a scan (see the module docstring)."""
    user = request.user
    if not user.is_authenticated:
        return _error(401, "login_required", _("Please log in."))
    if not all(user.has_perm(p) for p in ISSUE_PERMISSIONS):
        return _error(403, "forbidden", _("You are not allowed to issue stock."))
    try:
        data = _payload(request)
        person = _person(data)
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key")
        result = services.document_create_and_post(
            actor=user,
            type="issue",
            lines=_lines(data),
            idempotency_key=str(key) if key else None,
            warehouse=data.get("warehouse"),
            person=person,
            department=data.get("department") or None,
            requisition=data.get("requisition") or None,
            reason=str(data.get("reason") or ""),
        )
    except services.StockShortage as exc:
        return _error(
            409,
            "insufficient_stock",
            exc.message_text,
            available=format_quantity(exc.available),
            requested=format_quantity(exc.requested),
        )
    except PermissionDenied as exc:
        return _error(403, "forbidden", str(exc) or _("You are not allowed to issue stock."))
    except ValidationError as exc:
        errors = _errors(exc)
        first = next((m for msgs in errors.values() for m in msgs), _("Invalid request."))
        return _error(400, "invalid", first, errors=errors)
    document = result.document
    return JsonResponse(
        {
            "ok": True,
            "posted": result.posted,
            "message": result.message,
            "document": {"id": document.pk, "number": document.number},
            "number": document.number,
        }
    )


@require_GET
def ledger(request, pk: int):
    """A page of an item's ledger as JSON (newest first, keyset pagination)."""
    user = request.user
    if not user.is_authenticated:
        return _error(401, "login_required", _("Please log in."))
    if not user.has_perm("inventory.view_ledgerentry"):
        return _error(403, "forbidden", _("You are not allowed to see the stock ledger."))
    item = selectors.item_get(pk=pk)
    if item is None:
        return _error(404, "not_found", _("No such item."))
    page = selectors.ledger_page(
        item=item,
        warehouse=request.GET.get("warehouse") or None,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
        size=request.GET.get("size") or selectors.LEDGER_PAGE_SIZE,
    )
    return JsonResponse(
        {
            "item": {"id": item.pk, "code": item.code, "name": item.name, "unit": item.unit},
            "older": page.older,
            "newer": page.newer,
            "entries": [
                {
                    "id": e.pk,
                    "posted_at": e.posted_at.isoformat(),
                    "document": e.document.number,
                    "type": e.document.type,
                    "warehouse": str(e.warehouse),
                    "quantity": format_quantity(e.quantity),
                    "balance": format_quantity(e.balance_after),
                    "unit_cost": str(e.unit_cost),
                    "value_change": str(e.value_change),
                    "value": str(e.value_after),
                }
                for e in page.entries
            ],
        }
    )
