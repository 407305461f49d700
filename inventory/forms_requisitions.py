"""Forms of the requisition pages (领用申请): the employee's request with its editable lines,
and the keeper's fulfilment with a quantity per line and a barcode box. Department heads
decide with the approvals' ``assets.forms_workflow.DecisionForm``.

Like the document forms, lines are parallel lists of inputs (``line_item``,
``line_quantity``: one entry per row), so rows are added, removed and scanned in by posting
the whole form, with or without JavaScript. The services check everything again and decide;
their errors are put back on the fields and rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.forms import BootstrapMixin

from . import selectors
from .models import Item, Requisition, RequisitionLine, format_quantity
from .services import parse_quantity
from .services.common import MAX_LINES

FOR_ME = "me"
FOR_DEPARTMENT = "department"
SEARCH_LIMIT = 20


# --- The request ------------------------------------------------------------------------------


class RequisitionForm(BootstrapMixin, forms.Form):
    """The header of a request: for whom, and why (the lines are ``RequestLine`` rows)."""

    for_whom = forms.ChoiceField(
        label=gettext_lazy("For"),
        choices=[(FOR_ME, gettext_lazy("Myself"))],
        initial=FOR_ME,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,  # the service asks for it, with the same message on every path
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, person, **kwargs):
        super().__init__(*args, **kwargs)
        if person.department_id:
            self.fields["for_whom"].choices = [
                (FOR_ME, _("Myself")),
                (
                    FOR_DEPARTMENT,
                    _("My department (%(department)s)") % {"department": person.department.name},
                ),
            ]
        self._style_widgets()
        self.fields["for_whom"].widget.attrs["class"] = "form-check-input"

    @property
    def for_department(self) -> bool:
        return self.cleaned_data.get("for_whom") == FOR_DEPARTMENT

    def add_service_errors(self, exc: ValidationError, **kwargs):
        if hasattr(exc, "error_dict"):
            errors = dict(exc.message_dict)
            if "for_department" in errors:
                errors["for_whom"] = errors.pop("for_department")
            errors.pop("lines", None)  # shown on the rows and above them
            exc = ValidationError(errors) if errors else None
        if exc is not None:
            super().add_service_errors(exc, **kwargs)


@dataclass
class RequestLine:
    """One row of the request: the item, the quantity as typed, its errors."""

    item: Item
    quantity: str = "1"
    errors: list[str] = field(default_factory=list)

    def service_line(self) -> dict:
        return {"item": self.item, "quantity": self.quantity}


def request_lines_from_post(data) -> list[RequestLine]:
    """The rows as posted; rows naming no item (or an unknown id) are dropped. One query."""
    refs = data.getlist("line_item")[: MAX_LINES + 1]
    quantities = data.getlist("line_quantity")
    ids = [int(r) for r in refs if r.strip().isdigit()]
    items = Item.objects.select_related("category").in_bulk(ids) if ids else {}
    rows = []
    for index, ref in enumerate(refs):
        item = items.get(int(ref)) if ref.strip().isdigit() else None
        if item is not None:
            quantity = quantities[index].strip() if index < len(quantities) else ""
            rows.append(RequestLine(item=item, quantity=quantity))
    return rows


def request_add_item(rows: list[RequestLine], item: Item) -> str | None:
    """One more of ``item``: a new row, or +1 on its row. An error message, or None."""
    if not item.is_active:
        return _("%(item)s is no longer in use; nothing was added.") % {"item": item}
    for row in rows:
        if row.item.pk == item.pk:
            current = _number(row.quantity)
            if current is None:
                return _("Correct the quantity of %(item)s first; nothing was added.") % {
                    "item": item
                }
            row.quantity = format_quantity(current + 1)
            row.errors = []
            return None
    if len(rows) >= MAX_LINES:
        return _("A requisition has at most %(n)s lines.") % {"n": MAX_LINES}
    rows.append(RequestLine(item=item))
    return None


def item_search(query: str) -> list[Item]:
    """Active items matching ``query`` (code or barcode prefix/exact, name or spec), with their
    total on hand, for the request's item picker."""
    query = (query or "").strip()
    if not query:
        return []
    items = list(selectors.item_list(filters={"q": query})[:SEARCH_LIMIT])
    return selectors.items_with_stock(items)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal((text or "0").replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- Fulfilment -------------------------------------------------------------------------------


class FulfilForm(BootstrapMixin, forms.Form):
    """The keeper's issue: the warehouse (one they keep), a note, the quantities per line
    (``issue_<line id>``, parsed by ``fulfil_quantities``) and the barcode box."""

    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    warehouse = forms.ModelChoiceField(
        label=gettext_lazy("Issue from warehouse"),
        queryset=selectors.warehouse_list(),
        error_messages={
            "required": gettext_lazy("Choose a warehouse."),
            "invalid_choice": gettext_lazy("You can only issue from a warehouse you keep."),
        },
    )
    scan = forms.CharField(
        label=gettext_lazy("Barcode"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("Scan or type a barcode and press Enter: one more of that item."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, managed, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = managed
        self.fields["warehouse"].empty_label = None
        self._style_widgets()
        self.fields["scan"].widget.attrs.update(
            {"autocomplete": "off", "inputmode": "text", "data-testid": "scan"}
        )

    @staticmethod
    def new_key() -> str:
        return uuid.uuid4().hex


@dataclass
class IssueRow:
    """One line of the requisition on the fulfilment form."""

    line: RequisitionLine
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"issue_{self.line.pk}"


def fulfil_rows(requisition: Requisition, data=None) -> list[IssueRow]:
    """A row per line with something left to issue, with the quantity as posted (or empty)."""
    rows = []
    for line in requisition.lines.all():
        if line.remaining <= 0:
            continue
        row = IssueRow(line=line)
        if data is not None:
            row.value = (data.get(row.name) or "").strip()
        rows.append(row)
    return rows


def fulfil_quantities(rows: list[IssueRow]) -> dict[int, Decimal] | None:
    """``{item id: quantity}`` of the rows to issue now (empty or 0: not now), or None when a
    row's quantity is invalid (the error is on the row)."""
    wanted, ok = {}, True
    for row in rows:
        row.errors = []
        if _number(row.value) == 0:
            continue
        try:
            wanted[row.line.item_id] = parse_quantity(row.value, row.line.item)
        except ValidationError as exc:
            row.errors = list(exc.messages)
            ok = False
    return wanted if ok else None


def fulfil_fill(rows: list[IssueRow]) -> None:
    """Every row: all that remains to issue."""
    for row in rows:
        row.value = format_quantity(row.line.remaining)
        row.errors = []


def fulfil_scan(rows: list[IssueRow], code: str) -> tuple[bool, str]:
    """One more of the item whose barcode (or code) is ``code``, on its row.

    Returns (changed, message): an unknown barcode, an item not on the requisition or more
    than remains change nothing and say so."""
    code = (code or "").strip()
    if not code:
        return False, ""
    row = next((r for r in rows if code in (r.line.item.barcode, r.line.item.code)), None)
    if row is None:
        item = selectors.item_get(barcode=code)
        if item is None:
            return False, _(
                "Unknown barcode “%(code)s”: no item has this barcode or code; nothing was changed."
            ) % {"code": code}
        return False, _("%(item)s is not on this requisition; nothing was changed.") % {
            "item": item
        }
    item = row.line.item
    current = _number(row.value)
    if current is None:
        return False, _("Correct the quantity of %(item)s first; nothing was changed.") % {
            "item": item
        }
    if current + 1 > row.line.remaining:
        return False, _(
            "All %(n)s %(unit)s of %(item)s still to issue are counted already; nothing was "
            "changed."
        ) % {"n": format_quantity(row.line.remaining), "unit": item.unit, "item": item}
    row.value = format_quantity(current + 1)
    row.errors = []
    return True, _("%(item)s: %(n)s %(unit)s to issue.") % {
        "item": item,
        "n": row.value,
        "unit": item.unit,
    }
