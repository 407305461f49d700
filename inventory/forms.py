"""Forms of the document pages: the header of each document type and the editable lines.

The header form parses what a person can see at once (a date, a choice from a list); the
lines are parsed from parallel lists of inputs (``line_item``, ``line_code``,
``line_quantity``, ``line_unit_cost``, ``line_direction``: one entry per row) so that rows can
be added, removed and scanned in without JavaScript-managed indexes. The services
(``document_create`` / ``document_update`` / ``document_create_and_post``) check everything
again and decide; their errors are put back on the header fields and the rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.forms import ISO_DATE, BootstrapMixin
from assets.models import Department, Person, Supplier

from . import selectors
from .models import (
    TYPE_DIRECTION,
    Direction,
    Document,
    DocumentType,
    Item,
    Requisition,
    format_quantity,
)
from .services.common import MAX_LINES

# The types a person creates on these pages (stocktake gains and losses come from stocktaking).
FORM_TYPES = (
    DocumentType.RECEIPT,
    DocumentType.ISSUE,
    DocumentType.TRANSFER,
    DocumentType.RETURN,
    DocumentType.ADJUSTMENT,
)
# Inflow lines whose unit cost the form asks for (required for receipts).
COST_TYPES = (DocumentType.RECEIPT, DocumentType.RETURN, DocumentType.ADJUSTMENT)
LINE_KEYS = ("line_item", "line_code", "line_quantity", "line_unit_cost", "line_direction")


class DocumentForm(BootstrapMixin, forms.Form):
    """The header of a document of ``doc_type``; the fields differ per type."""

    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    date = forms.DateField(
        label=gettext_lazy("Date"),
        input_formats=[ISO_DATE],
        widget=forms.DateInput(format=ISO_DATE, attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Enter a valid date.")},
    )
    warehouse = forms.ModelChoiceField(
        label=gettext_lazy("Warehouse"),
        queryset=selectors.warehouse_list(),
        error_messages={
            "required": gettext_lazy("Choose a warehouse."),
            "invalid_choice": gettext_lazy("Choose a warehouse from the list."),
        },
    )
    to_warehouse = forms.ModelChoiceField(
        label=gettext_lazy("To warehouse"),
        queryset=selectors.warehouse_list(),
        error_messages={
            "required": gettext_lazy("Choose the warehouse the items go to."),
            "invalid_choice": gettext_lazy("Choose a warehouse from the list."),
        },
    )
    supplier = forms.ModelChoiceField(
        label=gettext_lazy("Supplier"), queryset=Supplier.objects.all(), required=False
    )
    invoice_no = forms.CharField(
        label=gettext_lazy("Invoice number"), max_length=100, required=False
    )
    person = forms.ModelChoiceField(
        label=gettext_lazy("Person"),
        queryset=Person.objects.filter(is_active=True).order_by("name", "employee_no"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a person from the list.")},
    )
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose a department from the list.")},
    )
    requisition = forms.ModelChoiceField(
        label=gettext_lazy("Requisition"),
        queryset=Requisition.objects.none(),
        required=False,
        help_text=gettext_lazy("Optional: the approved requisition this issue fulfils."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, doc_type: str, user, managed: list, document=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.doc_type = doc_type
        keep = {"idempotency_key", "date", "warehouse", "reason"}
        if doc_type == DocumentType.TRANSFER:
            keep.add("to_warehouse")
            self.fields["warehouse"].label = _("From warehouse")
        if doc_type == DocumentType.RECEIPT:
            keep |= {"supplier", "invoice_no"}
        if doc_type in (DocumentType.ISSUE, DocumentType.RETURN):
            keep |= {"person", "department"}
            if doc_type == DocumentType.ISSUE:
                self.fields["person"].label = _("Issued to")
                self.fields["person"].help_text = _(
                    "Who receives the items; or choose a department, or both."
                )
            else:
                self.fields["person"].label = _("Returned by")
        if doc_type == DocumentType.ISSUE:
            keep.add("requisition")
            self.fields["requisition"].queryset = Requisition.objects.filter(
                Q(state__in=[Requisition.State.APPROVED, Requisition.State.PARTLY_ISSUED])
                | Q(pk=getattr(document, "requisition_id", None))
            ).select_related("requester")
        if doc_type == DocumentType.ADJUSTMENT:
            self.fields["reason"].label = _("Reason")
            self.fields["reason"].required = True
            self.fields["reason"].error_messages["required"] = _(
                "Give the reason for the adjustment."
            )
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        # Offer the warehouses the user keeps; any active warehouse still parses, and the
        # service refuses one the user does not keep with a clear message.
        offered = list(managed)
        current = getattr(document, "warehouse", None)
        if current is not None and current not in offered:
            offered.append(current)
        self.fields["warehouse"].widget.choices = [("", "---------")] + [
            (w.pk, str(w)) for w in offered
        ]
        self._style_widgets()

    def service_header(self) -> dict:
        """The cleaned header as ``document_create`` takes it."""
        data = dict(self.cleaned_data)
        data.pop("idempotency_key", None)
        return data

    @staticmethod
    def new_key() -> str:
        return uuid.uuid4().hex


def document_initial(document: Document) -> dict:
    return {
        "date": document.date,
        "warehouse": document.warehouse_id,
        "to_warehouse": document.to_warehouse_id,
        "supplier": document.supplier_id,
        "invoice_no": document.invoice_no,
        "person": document.person_id,
        "department": document.department_id,
        "requisition": document.requisition_id,
        "reason": document.reason,
    }


# --- Lines ------------------------------------------------------------------------------------


@dataclass
class LineRow:
    """One editable row: the item (once known), what was typed, and its errors."""

    item: Item | None = None
    code: str = ""
    quantity: str = ""
    unit_cost: str = ""
    direction: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_blank(self) -> bool:
        return self.item is None and not self.code and not self.quantity.strip()

    @property
    def amount(self) -> Decimal | None:
        try:
            value = Decimal(self.quantity.replace(",", "")) * Decimal(
                self.unit_cost.replace(",", "")
            )
        except (InvalidOperation, ValueError):
            return None
        return value.quantize(Decimal("0.01")) if value.is_finite() else None

    def service_line(self) -> dict:
        line = {"quantity": self.quantity, "unit_cost": self.unit_cost or None}
        if self.direction:
            line["direction"] = self.direction
        if self.item is not None:
            line["item"] = self.item
        else:
            line["barcode"] = self.code
        return line


def lines_from_post(data) -> list[LineRow]:
    """The rows as posted (parallel lists; a missing entry is empty)."""
    columns = {key: data.getlist(key) for key in LINE_KEYS}
    count = min(max((len(v) for v in columns.values()), default=0), MAX_LINES + 1)

    def at(key, i):
        values = columns[key]
        return values[i].strip() if i < len(values) else ""

    rows = []
    for i in range(count):
        row = LineRow(
            code=at("line_code", i),
            quantity=at("line_quantity", i),
            unit_cost=at("line_unit_cost", i),
            direction=at("line_direction", i),
        )
        row.item_ref = at("line_item", i)
        rows.append(row)
    return rows


def resolve_items(rows: list[LineRow]) -> None:
    """Attach the items the rows name by id or by barcode / code (two queries at most); a
    code that names no item is marked on its row."""
    ids, codes = set(), set()
    for row in rows:
        ref = getattr(row, "item_ref", "")
        if row.item is None and ref.isdigit():
            ids.add(int(ref))
        elif row.item is None and row.code:
            codes.add(row.code)
    by_id = {i.pk: i for i in Item.objects.filter(pk__in=ids)} if ids else {}
    by_code: dict[str, Item] = {}
    if codes:
        found = list(Item.objects.filter(Q(barcode__in=codes) | Q(code__in=codes)))
        by_code.update({i.code: i for i in found if i.code in codes})
        by_code.update({i.barcode: i for i in found if i.barcode in codes})
    for row in rows:
        ref = getattr(row, "item_ref", "")
        if row.item is None and ref.isdigit():
            row.item = by_id.get(int(ref))
        if row.item is None and row.code:
            row.item = by_code.get(row.code)
            if row.item is None:
                row.errors.setdefault("item", []).append(
                    _("No item has the barcode or code “%(code)s”.") % {"code": row.code}
                )
        if row.item is not None:
            row.code = ""


def lines_from_document(document: Document) -> list[LineRow]:
    rows = []
    for line in document.lines.all():
        rows.append(
            LineRow(
                item=line.item,
                quantity=format_quantity(line.quantity),
                unit_cost="" if line.unit_cost is None else f"{line.unit_cost.normalize():f}",
                direction="in" if line.direction == Direction.IN else "out",
            )
        )
    return rows


def scan_into(rows: list[LineRow], code: str) -> str | None:
    """Add one of the item whose barcode (or code) is ``code``: a new row, or one more on the
    row that has it. Returns an error message (nothing changed) or None."""
    code = code.strip()
    if not code:  # Enter in another field "clicks" the barcode button: nothing to add
        return None
    item = selectors.item_get(barcode=code)
    if item is None:
        return _(
            "Unknown barcode “%(code)s”: no item has this barcode or code; nothing was added."
        ) % {"code": code}
    if not item.is_active:
        return _("%(item)s is no longer in use; nothing was added.") % {"item": item}
    for row in rows:
        if row.item is not None and row.item.pk == item.pk:
            try:
                current = Decimal(row.quantity.replace(",", "") or "0")
            except InvalidOperation:
                return _("Correct the quantity of %(item)s first; nothing was added.") % {
                    "item": item
                }
            if not current.is_finite():
                return _("Correct the quantity of %(item)s first; nothing was added.") % {
                    "item": item
                }
            row.quantity = format_quantity(current + 1)
            row.errors.pop("quantity", None)
            return None
    if len(rows) >= MAX_LINES:
        return _("A document has at most %(n)s lines.") % {"n": MAX_LINES}
    # Replace a blank row the user had added rather than leaving it above the new one.
    blank = next((r for r in rows if r.is_blank), None)
    row = blank or LineRow()
    row.item, row.code, row.quantity = item, "", "1"
    if blank is None:
        rows.append(row)
    return None


def default_direction(doc_type: str) -> str:
    direction = TYPE_DIRECTION[doc_type]
    if direction is None:
        return ""
    return "in" if direction == Direction.IN else "out"


class ReverseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the reversal"),
        max_length=2000,
        error_messages={"required": gettext_lazy("Give the reason for the reversal.")},
    )
