"""Parsing and validation of document input (header and lines); no writes."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from assets.models import Department, Person, Supplier
from itassets.precompiled import GetByPk

from ..models import (
    TYPE_DIRECTION,
    Direction,
    DocumentLine,
    Item,
    Requisition,
    RequisitionLine,
    Warehouse,
    format_quantity,
)
from .common import (
    COST_REQUIRED,
    MAX_LINES,
    MAX_MONEY,
    MAX_QUANTITY,
    PERM_ADD,
    PERM_ADJUST,
    PERSON_TYPES,
    QTY_STEP,
    DocumentInvalid,
    Type,
    _require_manages,
    _require_perm,
    money,
    unit_cost_round,
)

# --- Parsing ----------------------------------------------------------------------------------


def _decimal(value) -> Decimal | None:
    """A finite Decimal from user input, None when empty; raises ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):  # True is an int to Python, not a quantity to anyone
        raise ValueError
    if isinstance(value, Decimal):
        number = value
    else:
        text = str(value).strip().replace(",", "")
        if text == "":
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number


def parse_quantity(value, item: Item | None) -> Decimal:
    """A positive quantity in the item's decimal places; raises ValidationError."""
    try:
        number = _decimal(value)
    except ValueError:
        raise ValidationError(_("Enter a number."), code="not_a_number") from None
    if number is None:
        raise ValidationError(_("Enter a quantity."), code="required")
    if number <= 0:
        raise ValidationError(_("The quantity must be greater than zero."), code="not_positive")
    if number >= MAX_QUANTITY:
        raise ValidationError(_("The quantity is too large."), code="too_large")
    places = item.quantity_decimals if item is not None else 3
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        if places == 0:
            raise ValidationError(
                _("%(item)s is counted in whole units (%(unit)s).")
                % {"item": item, "unit": item.unit},
                code="fraction",
            )
        raise ValidationError(
            _("%(item)s is counted to at most %(places)s decimal places.")
            % {"item": item if item is not None else "", "places": places},
            code="fraction",
        )
    return number.quantize(QTY_STEP)


def _parse_money(value, *, places: int) -> Decimal | None:
    try:
        number = _decimal(value)
    except ValueError:
        raise ValidationError(_("Enter a number."), code="not_a_number") from None
    if number is None:
        return None
    if number < 0:
        raise ValidationError(_("The amount cannot be negative."), code="negative")
    if number >= MAX_MONEY:
        raise ValidationError(_("The amount is too large."), code="too_large")
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise ValidationError(
            _("Enter at most %(places)s decimal places.") % {"places": places}, code="places"
        )
    return number.quantize(step)


def _resolve(model, value, *, key: str, errors: dict, lookup: GetByPk | None = None):
    """A model instance from an instance, a primary key or nothing; errors[key] if unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value
    try:
        # The key is prepared as the ORM prepares it (int(): the same errors for "1x"...).
        found = (lookup or _by_pk(model)).get(value)
        if found is None:
            raise model.DoesNotExist
        return found
    except (model.DoesNotExist, ValueError, TypeError):
        errors.setdefault(key, []).append(
            _("The selected %(model)s does not exist.") % {"model": model._meta.verbose_name}
        )
        return None


@functools.cache
def _by_pk(model) -> GetByPk:
    return GetByPk(model._default_manager.all())


def _get_by_pk(model, pk):
    """``model._default_manager.get(pk=pk)`` or None, compiled once (hot paths: a scan)."""
    return _by_pk(model).get(pk)


def _warehouse_qs():
    return Warehouse.objects.select_related("location")


@functools.cache
def _warehouse_get() -> GetByPk:
    return GetByPk(_warehouse_qs())


def _direction(value) -> int | None:
    if value in (Direction.IN, 1, "1", "+1", "in", "+"):
        return Direction.IN
    if value in (Direction.OUT, -1, "-1", "out", "-"):
        return Direction.OUT
    return None


# --- Validation -------------------------------------------------------------------------------

HEADER_FIELDS = (
    "date",
    "warehouse",
    "to_warehouse",
    "supplier",
    "invoice_no",
    "person",
    "department",
    "reason",
    "requisition",
)


@dataclass
class _Draft:
    """Validated input: header values and unsaved lines."""

    type: str
    header: dict
    lines: list[DocumentLine] = field(default_factory=list)


def _lookup_items(lines: Sequence[Mapping]) -> tuple[dict, dict]:
    """Items named by the lines, fetched in at most two queries: by pk, by barcode or code."""
    ids, codes = set(), set()
    for raw in lines:
        item = raw.get("item")
        if isinstance(item, Item):
            continue
        if item not in (None, ""):
            with contextlib.suppress(TypeError, ValueError):
                ids.add(int(item))
        else:
            code = str(raw.get("barcode") or raw.get("code") or "").strip()
            if code:
                codes.add(code)
    if len(ids) == 1:  # a scan: one item, by a query compiled once
        found_one = _get_by_pk(Item, next(iter(ids)))
        by_id = {found_one.pk: found_one} if found_one is not None else {}
    else:
        by_id = {i.pk: i for i in Item.objects.filter(pk__in=ids)} if ids else {}
    by_code: dict[str, Item] = {}
    if codes:
        found = list(Item.objects.filter(Q(barcode__in=codes) | Q(code__in=codes)))
        by_code.update({i.code: i for i in found if i.code in codes})
        by_code.update({i.barcode: i for i in found if i.barcode in codes})  # barcodes win
    return by_id, by_code


def _line_item(raw: Mapping, by_id: dict, by_code: dict, errs: dict) -> Item | None:
    item = raw.get("item")
    if isinstance(item, Item):
        found = item
    elif item not in (None, ""):
        try:
            found = by_id.get(int(item))
        except (TypeError, ValueError):
            found = None
        if found is None:
            errs.setdefault("item", []).append(_("This item does not exist."))
            return None
    else:
        code = str(raw.get("barcode") or raw.get("code") or "").strip()
        if not code:
            errs.setdefault("item", []).append(_("Choose an item or scan its barcode."))
            return None
        found = by_code.get(code)
        if found is None:
            errs.setdefault("barcode", []).append(
                _("No item has the barcode or code “%(code)s”.") % {"code": code}
            )
            return None
    if not found.is_active:
        errs.setdefault("item", []).append(_("%(item)s is no longer in use.") % {"item": found})
        return None
    return found


def _validate(
    *, actor, type: str, header: Mapping, lines: Sequence[Mapping], keeps: bool | None = None
) -> _Draft:
    """Check a document's header and lines; raise ``DocumentInvalid`` listing every problem,
    ``PermissionDenied`` when ``actor`` may not write it. ``keeps``: whether ``actor`` keeps
    the header's warehouse, when the caller has read it already (None: asked here)."""
    errors: dict[str, list[str]] = {}
    if type not in Type.values:
        raise DocumentInvalid({"type": [_("Choose a document type.")]}, {})
    _require_perm(actor, PERM_ADD, _("You are not allowed to create stock documents."))
    if type == Type.ADJUSTMENT:
        _require_perm(actor, PERM_ADJUST, _("You are not allowed to make stock adjustments."))
    unknown = set(header) - set(HEADER_FIELDS)
    if unknown:
        raise TypeError(f"unknown document fields: {sorted(unknown)}")

    clean: dict = {}
    day = header.get("date") or timezone.localdate()
    if not isinstance(day, date):
        try:
            day = date.fromisoformat(str(day))
        except ValueError:
            errors.setdefault("date", []).append(_("Enter a valid date."))
            day = timezone.localdate()
    if day > timezone.localdate():
        errors.setdefault("date", []).append(_("The date cannot be in the future."))
    clean["date"] = day

    warehouse = _resolve(
        Warehouse, header.get("warehouse"), key="warehouse", errors=errors, lookup=_warehouse_get()
    )
    if warehouse is None and "warehouse" not in errors:
        errors["warehouse"] = [_("Choose a warehouse.")]
    elif warehouse is not None and not (warehouse.is_active and warehouse.location.is_warehouse):
        errors.setdefault("warehouse", []).append(
            _("%(warehouse)s does not keep stock any more.") % {"warehouse": warehouse}
        )
    clean["warehouse"] = warehouse

    to_warehouse = None
    if type == Type.TRANSFER:
        to_warehouse = _resolve(
            Warehouse,
            header.get("to_warehouse"),
            key="to_warehouse",
            errors=errors,
            lookup=_warehouse_get(),
        )
        if to_warehouse is None and "to_warehouse" not in errors:
            errors["to_warehouse"] = [_("Choose the warehouse the items go to.")]
        elif to_warehouse is not None:
            if warehouse is not None and to_warehouse.pk == warehouse.pk:
                errors.setdefault("to_warehouse", []).append(
                    _("A transfer needs two different warehouses.")
                )
            elif not (to_warehouse.is_active and to_warehouse.location.is_warehouse):
                errors.setdefault("to_warehouse", []).append(
                    _("%(warehouse)s does not keep stock any more.") % {"warehouse": to_warehouse}
                )
    clean["to_warehouse"] = to_warehouse

    clean["supplier"] = None
    clean["invoice_no"] = ""
    if type == Type.RECEIPT:
        clean["supplier"] = _resolve(
            Supplier, header.get("supplier"), key="supplier", errors=errors
        )
        clean["invoice_no"] = str(header.get("invoice_no") or "").strip()[:100]

    requisition = None
    if type == Type.ISSUE:
        requisition = _resolve(
            Requisition, header.get("requisition"), key="requisition", errors=errors
        )
        if requisition is not None and not requisition.is_open:
            errors.setdefault("requisition", []).append(
                _("Requisition #%(id)s is “%(state)s”: nothing can be issued for it.")
                % {"id": requisition.pk, "state": requisition.get_state_display()}
            )
    clean["requisition"] = requisition

    person = department = None
    if type in PERSON_TYPES:
        person = _resolve(Person, header.get("person"), key="person", errors=errors)
        department = _resolve(Department, header.get("department"), key="department", errors=errors)
        if requisition is not None:
            person = person or requisition.requester
            department = department or requisition.department
        if department is None and person is not None:
            department = person.department
        if person is None and department is None and not {"person", "department"} & set(errors):
            msg = (
                _("Choose who receives the items: a person, a department or both.")
                if type == Type.ISSUE
                else _("Choose who returns the items: a person, a department or both.")
            )
            errors["person"] = [msg]
        if person is not None and type == Type.ISSUE and not person.is_active:
            errors.setdefault("person", []).append(_("%(person)s has left.") % {"person": person})
    clean["person"], clean["department"] = person, department

    reason = str(header.get("reason") or "").strip()
    if type == Type.ADJUSTMENT and not reason:
        errors.setdefault("reason", []).append(_("Give the reason for the adjustment."))
    clean["reason"] = reason

    if warehouse is not None:
        _require_manages(actor, warehouse, keeps=keeps)

    draft = _Draft(type=type, header=clean)
    draft.lines, line_errors = _validate_lines(type, lines, clean, errors)
    if errors or line_errors:
        raise DocumentInvalid(errors, line_errors)
    return draft


def _validate_lines(type: str, lines: Sequence[Mapping], header: dict, errors: dict):
    result: list[DocumentLine] = []
    line_errors: dict[int, dict[str, list]] = {}
    lines = list(lines or [])
    if not lines:
        errors.setdefault("lines", []).append(_("Add at least one line."))
        return result, line_errors
    if len(lines) > MAX_LINES:
        errors.setdefault("lines", []).append(
            _("A document has at most %(n)s lines.") % {"n": MAX_LINES}
        )
        return result, line_errors
    by_id, by_code = _lookup_items(lines)
    requisition = header.get("requisition")
    remaining: dict[int, Decimal] = {}
    if requisition is not None:
        remaining = {
            line.item_id: line.remaining
            for line in RequisitionLine.objects.filter(requisition=requisition)
        }
    for index, raw in enumerate(lines):
        errs: dict[str, list] = {}
        item = _line_item(raw, by_id, by_code, errs)
        quantity = None
        try:
            quantity = parse_quantity(raw.get("quantity"), item)
        except ValidationError as exc:
            errs.setdefault("quantity", []).extend(exc.messages)
        direction = TYPE_DIRECTION[type]
        if direction is None:
            direction = _direction(raw.get("direction"))
            if direction is None:
                errs.setdefault("direction", []).append(
                    _("Say whether the adjustment adds or removes stock.")
                )
        unit_cost = amount = None
        if direction == Direction.IN and type != Type.TRANSFER:
            try:
                unit_cost = _parse_money(raw.get("unit_cost"), places=4)
            except ValidationError as exc:
                errs.setdefault("unit_cost", []).extend(exc.messages)
            try:
                amount = _parse_money(raw.get("amount"), places=2)
            except ValidationError as exc:
                errs.setdefault("amount", []).extend(exc.messages)
            if quantity is not None and not errs.get("unit_cost") and not errs.get("amount"):
                if unit_cost is None and amount is None:
                    if type in COST_REQUIRED:
                        errs.setdefault("unit_cost", []).append(_("Enter the unit price."))
                elif amount is None:
                    amount = money(quantity * unit_cost)
                elif unit_cost is None:
                    unit_cost = unit_cost_round(amount / quantity)
        if requisition is not None and item is not None and quantity is not None:
            left = remaining.get(item.pk)
            if left is None:
                errs.setdefault("item", []).append(
                    _("%(item)s is not on requisition #%(id)s.")
                    % {"item": item, "id": requisition.pk}
                )
            elif quantity > left:
                errs.setdefault("quantity", []).append(
                    _("Only %(left)s of %(item)s remain to be issued for this requisition.")
                    % {"left": f"{format_quantity(left)}{item.unit}", "item": item}
                )
            else:
                remaining[item.pk] = left - quantity
        if errs:
            line_errors[index] = errs
            continue
        result.append(
            DocumentLine(
                item=item,
                warehouse=header["warehouse"],
                to_warehouse=header["to_warehouse"] if type == Type.TRANSFER else None,
                direction=direction,
                quantity=quantity,
                unit_cost=unit_cost,
                amount=amount,
            )
        )
    return result, line_errors


def document_validate(*, actor, type: str, lines: Sequence[Mapping], **header) -> None:
    """Check a document without saving it (admin and forms); raises like document_create."""
    _validate(actor=actor, type=type, header=header, lines=lines)
