"""Document pages: list, detail (post, reverse, delete a draft, PDF), and the create / edit
form with line editing and barcode entry.

Authorisation: every page needs ``inventory.view_document``; the documents a user sees come
from ``selectors.document_list`` / ``document_get`` (keepers: their warehouses; roles with
the ALL scope: all), so a document outside the scope answers 404. Creating needs
``inventory.add_document`` (adjustments also ``inventory.adjust_stock``) and a warehouse the
user keeps; posting, reversing, editing and deleting need their permission, and the services
check the keeper again.

The form (``document_form``): one URL per document (``new/<type>/`` or ``<pk>/edit/``). Its
buttons post the whole form with an ``action``: ``save`` / ``save_post`` (call the service,
redirect to the document), ``scan`` (the barcode box: add the scanned item or one more of
it), ``add`` (an empty row), ``remove:<n>`` (drop row n), ``refresh`` (re-read typed codes).
htmx sends the line actions with ``hx-post`` and gets only the ``doc-lines`` partial back;
without JavaScript they re-render the page. The barcode box's button is the form's first
submit button, so a wedge scanner's Enter "clicks" it in both cases.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import selectors, services
from ..filters import DocumentFilterForm, active_warehouses
from ..forms import (
    COST_TYPES,
    FORM_TYPES,
    DocumentForm,
    LineRow,
    ReverseForm,
    default_direction,
    document_initial,
    lines_from_document,
    lines_from_post,
    resolve_items,
    scan_into,
)
from ..models import ZERO, Document, DocumentType
from ..services.common import (
    PERM_ADD,
    PERM_ADJUST,
    PERM_CHANGE,
    PERM_DELETE,
    PERM_POST,
    PERM_REVERSE,
)
from .common import (
    VIEW_DOCUMENT,
    href,
    pager,
    paginate,
    require_perm,
    state_pairs,
    vary_on_htmx,
    wants_fragment,
)

LIST_TEMPLATE = "inventory/document_list.html"
DETAIL_TEMPLATE = "inventory/document_detail.html"
FORM_TEMPLATE = "inventory/document_form.html"
FILTER_KEYS = ("q", "type", "status", "warehouse", "date_from", "date_to")
# Form titles per type (入库单, 出库单, ...).
FORM_TITLES = {
    DocumentType.RECEIPT: gettext_lazy("New receipt"),
    DocumentType.ISSUE: gettext_lazy("New issue"),
    DocumentType.TRANSFER: gettext_lazy("New transfer"),
    DocumentType.RETURN: gettext_lazy("New return"),
    DocumentType.ADJUSTMENT: gettext_lazy("New adjustment"),
}


def _may_create(user) -> list[tuple[str, str]]:
    """(type, label) of the documents the user may create here."""
    if not user.has_perm(PERM_ADD):
        return []
    types = [t for t in FORM_TYPES if t != DocumentType.ADJUSTMENT or user.has_perm(PERM_ADJUST)]
    return [(t, DocumentType(t).label) for t in types]


# --- List -------------------------------------------------------------------------------------


@login_required
@require_GET
def document_list(request):
    """``/inventory/documents/``: the documents the user may see, newest first."""
    require_perm(request.user, VIEW_DOCUMENT)
    form = DocumentFilterForm(request.GET, warehouses=active_warehouses())
    filters = form.filters
    page = paginate(selectors.document_list(user=request.user, filters=filters), request.GET)
    base = reverse("inventory:document_list")
    pairs = state_pairs(request.GET, FILTER_KEYS)
    context = {
        "form": form,
        "documents": page.object_list,
        "pager": pager(page, base, pairs),
        "state_url": href(base, pairs, page=page.number if page.number > 1 else None),
        "filtered": bool(pairs),
        "create_types": _may_create(request.user),
    }
    if wants_fragment(request):
        response = render(request, f"{LIST_TEMPLATE}#document-table", context)
        response["HX-Push-Url"] = context["state_url"]
    else:
        response = render(request, LIST_TEMPLATE, context)
    return vary_on_htmx(response)


# --- Detail and its actions -------------------------------------------------------------------


def _visible(user, pk) -> Document:
    require_perm(user, VIEW_DOCUMENT)
    document = selectors.document_get(user=user, pk=pk)
    if document is None:
        raise Http404
    return document


def _actions(user, document: Document) -> dict:
    """What the detail page offers (the views and services check again)."""
    manages = services.user_manages_warehouse(user, document.warehouse_id)
    draft = document.is_draft
    adjust_ok = document.type != DocumentType.ADJUSTMENT or user.has_perm(PERM_ADJUST)
    posted = document.status == Document.Status.POSTED
    return {
        "can_post": draft and manages and adjust_ok and user.has_perm(PERM_POST),
        "can_edit": draft and manages and user.has_perm(PERM_CHANGE),
        "can_delete": draft and manages and user.has_perm(PERM_DELETE),
        "can_reverse": posted
        and document.reverses_id is None
        and manages
        and adjust_ok
        and user.has_perm(PERM_REVERSE),
        "can_print": not draft,
    }


@login_required
@require_GET
def document_detail(request, pk: int):
    """``/inventory/documents/<pk>/``: header, lines, and the buttons the user may use. An
    htmx request gets the ``document-detail`` region only."""
    document = _visible(request.user, pk)
    lines = list(document.lines.all())
    context = {
        "document": document,
        "lines": lines,
        "total_quantity": sum((line.quantity for line in lines), ZERO),
        "total_amount": sum((line.amount or ZERO for line in lines), ZERO),
        "reversal": selectors.document_reversal(document=document)
        if document.status == Document.Status.REVERSED
        else None,
        "reverse_form": ReverseForm(),
        **_actions(request.user, document),
    }
    template = f"{DETAIL_TEMPLATE}#document-detail" if wants_fragment(request) else DETAIL_TEMPLATE
    return vary_on_htmx(render(request, template, context))


def _error_text(exc: ValidationError) -> str:
    if isinstance(exc, services.StockShortage):
        return exc.message_text
    return " ".join(exc.messages)


@login_required
@require_POST
def document_post(request, pk: int):
    """Post a draft. Posting it again (a double click, a replayed request) changes nothing
    and says so; a refusal (not enough stock, ...) is shown and nothing is saved."""
    document = _visible(request.user, pk)
    require_perm(request.user, PERM_POST)
    try:
        result = services.document_post(document=document, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        if result.posted:
            messages.success(request, result.message)
        else:
            messages.warning(request, result.message)
    return redirect(document)


@login_required
@require_POST
def document_reverse(request, pk: int):
    """Post a reversing document for a posted one (红冲), with a reason."""
    document = _visible(request.user, pk)
    require_perm(request.user, PERM_REVERSE)
    form = ReverseForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(document)
    try:
        reversal = services.document_reverse(
            document=document, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(document)
    messages.success(
        request,
        _("%(document)s was reversed by %(reversal)s.")
        % {"document": document, "reversal": reversal},
    )
    return redirect(reversal)


@login_required
@require_POST
def document_delete(request, pk: int):
    """Delete a draft; posted documents are refused (they are reversed instead)."""
    document = _visible(request.user, pk)
    require_perm(request.user, PERM_DELETE)
    label = str(document)
    try:
        services.document_delete(document=document, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(document)
    messages.success(request, _("%(document)s was deleted.") % {"document": label})
    return redirect("inventory:document_list")


@login_required
@require_GET
def document_pdf(request, pk: int):
    """The posted document as an A4 PDF (入库单, 出库单, ...) with signature lines."""
    from ..pdf import render_document

    document = _visible(request.user, pk)
    if document.is_draft:
        raise Http404
    response = HttpResponse(render_document(document), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.number}.pdf"'
    return response


# --- Create and edit --------------------------------------------------------------------------


def _requisition_param(request, doc_type: str):
    """The open requisition of ``?requisition=`` that a new issue starts from, if the user
    may see it."""
    value = request.GET.get("requisition", "")
    if doc_type != DocumentType.ISSUE or not value.isdigit():
        return None
    found = selectors.requisition_get(user=request.user, pk=value)
    return found if found is not None and found.is_open else None


def _initial_rows(request, document: Document | None, requisition) -> list[LineRow]:
    """The rows a form starts with: the draft's, or those of the requisition (what remains
    to issue) or of ``?item=``, else one empty row."""
    if document is not None:
        return lines_from_document(document)
    rows: list[LineRow] = []
    if requisition is not None:
        rows = [
            LineRow(item=line.item, quantity=f"{line.remaining.normalize():f}")
            for line in requisition.lines.all()
            if line.remaining > 0
        ]
    item = request.GET.get("item", "")
    if not rows and item.isdigit():
        found_item = selectors.item_get(pk=int(item))
        if found_item is not None and found_item.is_active:
            rows = [LineRow(item=found_item, quantity="")]
    return rows or [LineRow()]


def _initial_header(managed: list, requisition) -> dict:
    initial = {"date": timezone.localdate(), "idempotency_key": DocumentForm.new_key()}
    if len(managed) == 1:
        initial["warehouse"] = managed[0].pk
    if requisition is not None:
        initial.update(
            requisition=requisition.pk,
            person=requisition.requester_id,
            department=requisition.department_id,
        )
    return initial


def _apply_line_action(action: str, rows: list[LineRow], data) -> str | None:
    """Change the rows for a line action; returns an error for the barcode box, if any."""
    if action == "scan":
        return scan_into(rows, data.get("scan", ""))
    if action == "add":
        rows.append(LineRow())
    elif action.startswith("remove:"):
        index = action.partition(":")[2]
        if index.isdigit() and int(index) < len(rows):
            del rows[int(index)]
    return None


def _put_service_errors(form: DocumentForm, rows: list[LineRow], exc) -> None:
    """A service's refusal on the header fields, the rows and the form."""
    if isinstance(exc, services.DocumentInvalid):
        for index, errors in exc.line_errors.items():
            if index < len(rows):
                for key, msgs in errors.items():
                    target = "item" if key == "barcode" else key
                    rows[index].errors.setdefault(target, []).extend(msgs)
        header = {k: v for k, v in exc.message_dict.items() if k != "lines"}
        for key, msgs in header.items():
            form.add_error(key if key in form.fields else None, msgs)
        if not exc.line_errors and "lines" in exc.message_dict:
            form.add_error(None, exc.message_dict["lines"])
    elif isinstance(exc, services.StockShortage):
        form.add_error(None, exc.message_text)
    elif isinstance(exc, PermissionDenied):
        form.add_error("warehouse", str(exc) or _("You are not allowed to do this."))
    else:
        form.add_service_errors(exc)


def _save(request, form, rows, *, doc_type, document, post: bool):
    """Call the service; returns the saved document or None (errors put on the form)."""
    rows[:] = [r for r in rows if not r.is_blank]
    lines = [r.service_line() for r in rows]
    header = form.service_header()
    try:
        if document is not None:
            saved = services.document_update(
                document=document, actor=request.user, lines=lines, **header
            )
            messages.success(request, _("%(document)s was saved.") % {"document": saved})
            return saved
        key = form.cleaned_data.get("idempotency_key") or None
        if post:
            result = services.document_create_and_post(
                actor=request.user, type=doc_type, lines=lines, idempotency_key=key, **header
            )
            level = messages.SUCCESS if result.posted else messages.WARNING
            messages.add_message(request, level, result.message)
            return result.document
        saved = services.document_create(
            actor=request.user, type=doc_type, lines=lines, idempotency_key=key, **header
        )
        if getattr(saved, "replayed", False):
            messages.warning(
                request,
                _("%(document)s was already saved; nothing was changed.") % {"document": saved},
            )
        else:
            messages.success(request, _("%(document)s was saved as a draft.") % {"document": saved})
        return saved
    except (ValidationError, PermissionDenied) as exc:
        _put_service_errors(form, rows, exc)
        return None


def _form_context(request, form, rows, *, doc_type, document, scan_error=None, scanned=False):
    return {
        "form": form,
        "rows": rows,
        "doc_type": doc_type,
        "type_label": DocumentType(doc_type).label,
        "document": document,
        "title": FORM_TITLES[doc_type]
        if document is None
        else _("Edit %(document)s") % {"document": document},
        "action_url": request.path,
        "with_cost": doc_type in COST_TYPES,
        "cost_required": doc_type == DocumentType.RECEIPT,
        "with_direction": doc_type == DocumentType.ADJUSTMENT,
        "default_direction": default_direction(doc_type),
        "scan_error": scan_error,
        "scanned": scanned,
        "can_post": request.user.has_perm(PERM_POST) and document is None,
        "back_url": document.get_absolute_url()
        if document is not None
        else reverse("inventory:document_list"),
    }


def _document_form(request, *, doc_type: str, document: Document | None):
    user = request.user
    managed = list(selectors.warehouses_managed(user=user))
    if not managed:
        raise PermissionDenied(_("You do not keep any warehouse."))
    kwargs = {"doc_type": doc_type, "user": user, "managed": managed, "document": document}

    if request.method == "GET":
        requisition = _requisition_param(request, doc_type) if document is None else None
        initial = (
            document_initial(document)
            if document is not None
            else _initial_header(managed, requisition)
        )
        rows = _initial_rows(request, document, requisition)
        form = DocumentForm(initial=initial, **kwargs)
        context = _form_context(request, form, rows, doc_type=doc_type, document=document)
        return render(request, FORM_TEMPLATE, context)

    action = request.POST.get("action", "save")
    rows = lines_from_post(request.POST)
    if action in ("save", "save_post"):
        form = DocumentForm(request.POST, **kwargs)
        resolve_items(rows)
        valid = form.is_valid()
        if valid and not any(r.errors for r in rows):
            saved = _save(
                request,
                form,
                rows,
                doc_type=doc_type,
                document=document,
                post=action == "save_post",
            )
            if saved is not None:
                return redirect(saved)
        context = _form_context(request, form, rows, doc_type=doc_type, document=document)
        return render(request, FORM_TEMPLATE, context)

    # A line action: change the rows and show them again; nothing is saved.
    resolve_items(rows)
    scan_error = _apply_line_action(action, rows, request.POST)
    if not rows:
        rows.append(LineRow())
    form = DocumentForm(initial=request.POST.dict(), **kwargs)
    context = _form_context(
        request,
        form,
        rows,
        doc_type=doc_type,
        document=document,
        scan_error=scan_error,
        scanned=action == "scan",
    )
    if request.htmx:
        return render(request, f"{FORM_TEMPLATE}#doc-lines", context)
    return render(request, FORM_TEMPLATE, context)


@login_required
@require_http_methods(["GET", "POST"])
def document_create(request, doc_type: str):
    """``/inventory/documents/new/<type>/``: a new receipt, issue, transfer, return or
    manual adjustment."""
    if doc_type not in FORM_TYPES:
        raise Http404
    require_perm(request.user, VIEW_DOCUMENT, PERM_ADD)
    if doc_type == DocumentType.ADJUSTMENT:
        require_perm(request.user, PERM_ADJUST)
    return _document_form(request, doc_type=doc_type, document=None)


@login_required
@require_http_methods(["GET", "POST"])
def document_edit(request, pk: int):
    """``/inventory/documents/<pk>/edit/``: change a draft. A posted document is never
    edited: the page sends the user back to it with the reason."""
    document = _visible(request.user, pk)
    require_perm(request.user, PERM_CHANGE)
    if not document.is_draft:
        messages.error(
            request,
            _("%(document)s is posted: it cannot be changed or deleted; reverse it instead.")
            % {"document": document},
        )
        return redirect(document)
    if not services.user_manages_warehouse(request.user, document.warehouse_id):
        raise PermissionDenied
    if document.type == DocumentType.ADJUSTMENT:
        require_perm(request.user, PERM_ADJUST)
    return _document_form(request, doc_type=document.type, document=document)
