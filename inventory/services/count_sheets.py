"""Count sheets of consumable stocktakes (盘点表): freeze, count, post the variance.

A consumable stocktake has one ``CountSheet`` per warehouse and one ``CountLine`` per item
stocked there. The stocktake services call the two ends: ``count_sheets_freeze`` when it
starts, ``count_sheets_post`` when it closes; counters fill in the middle with
``count_line_set`` (a quantity typed in) and ``count_sheet_scan`` (a barcode scanned: one
more).

The exact cut between "before" and "after" is the stock ledger's ids. Entries of one
(item, warehouse) are written while its stock row is locked, so:

- **freeze** locks the warehouse's stock rows (``SELECT … FOR UPDATE``: it waits for the
  postings in flight, including one inserting a new row), then reads the book quantity and
  average cost of each row and the warehouse's last ledger id (``frozen_ledger_id``);
- **counting** a line locks its stock row the same way and records the item's last ledger id
  at that moment (``counted_ledger_id``). A count is a picture of the shelf when it was
  taken, so the movements that belong to it are the ledger entries after the freeze *up to
  the count*; what moves after the count is on neither the shelf counted nor the book at
  that moment;
- **posting** computes ``variance = counted − (book at freeze + movements up to the count)``
  for every line in one query and posts one 盘盈 document (stocktake gain, PY) and one 盘亏
  document (stocktake loss, PK) per sheet through ``document_create_and_post`` (the two types
  have fixed directions, so one document per sign). Gains are valued at the average cost at
  freeze (else the current average), losses at the moving average, as every posting is. A
  document holds at most ``MAX_LINES`` lines: a bigger variance is split into several
  documents of the same sign, found again by their idempotency keys ``stcount-<sheet>-…``.

Lines nobody counted are refused at posting, except those whose expected quantity is zero
(nothing in the book, nothing moved): they are taken as counted zero. See docs/stocktaking.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Document,
    DocumentLine,
    DocumentType,
    Item,
    ItemCategory,
    LedgerEntry,
    Stock,
    Warehouse,
    format_quantity,
)
from ..models_stocktake import (
    CountLine,
    CountSheet,
    Stocktake,
    StocktakeCounter,
    StocktakeScan,
)
from .common import MAX_LINES, MAX_QUANTITY, QTY_STEP, ZERO, user_manages_warehouse
from .documents import document_create_and_post
from .stocktakes import (
    ScanRefused,
    _parse_scan_id,
    _status_shared,
    clean_code,
    may_count,
    may_manage,
)
from .validation import _decimal

Kind = Stocktake.Kind
State = Stocktake.Status
SheetState = CountSheet.Status
KEY_PREFIX = "stcount"
_NO_CUT = Value(2**62, output_field=BigIntegerField())


# --- Who may count ----------------------------------------------------------------------------


def sheet_may_count(user, sheet: CountSheet) -> bool:
    """Keepers of the sheet's warehouse and administrators (managers of consumable
    stocktakes), and counters assigned to the stocktake for the whole scope or for a location
    containing the sheet's warehouse."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if may_manage(user, Kind.CONSUMABLE) and user_manages_warehouse(user, sheet.warehouse_id):
        return True
    if not may_count(user):
        return False
    warehouse_path = sheet.warehouse.location.path
    paths = StocktakeCounter.objects.filter(stocktake_id=sheet.stocktake_id, user=user).values_list(
        "location__path", flat=True
    )
    return any(path is None or warehouse_path.startswith(path) for path in paths)


def _require_count(actor, sheet: CountSheet) -> None:
    if not sheet_may_count(actor, sheet):
        raise PermissionDenied(_("You are not a counter of this stocktake."))


def _require_counting(sheet: CountSheet) -> None:
    """The stocktake is counting (read with a shared lock: closing waits for this count and
    refuses later ones) and the sheet is not posted."""
    status, kind = _status_shared(sheet.stocktake_id) or (None, None)
    if status is None:
        raise Stocktake.DoesNotExist
    if kind != Kind.CONSUMABLE:
        raise ValidationError(_("This is not a consumable stocktake."), code="kind")
    if status == State.DRAFT:
        raise ValidationError(_("This stocktake has not started yet."), code="not_started")
    if status != State.COUNTING:
        raise ValidationError(
            _("This stocktake is closed: counts cannot be changed."), code="closed"
        )
    if CountSheet.objects.filter(pk=sheet.pk, status=SheetState.POSTED).exists():
        raise ValidationError(_("This count sheet is posted."), code="posted")


# --- Freeze -----------------------------------------------------------------------------------


def _category_ids(stocktake: Stocktake) -> list[int] | None:
    """The item categories counted, with their subcategories (None: every item)."""
    paths = list(stocktake.item_categories.values_list("path", flat=True))
    if not paths:
        return None
    q = Q()
    for path in paths:
        q |= Q(path__startswith=path)
    return list(ItemCategory.objects.filter(q).values_list("pk", flat=True))


def _item_in_scope(item: Item, category_ids: list[int] | None) -> bool:
    return category_ids is None or item.category_id in category_ids


def _lock_rows(warehouse_id: int, item_id: int | None = None) -> None:
    """Lock the stock rows of a warehouse (or of one item there): waits for every posting in
    flight over them, including one that is inserting a row."""
    qs = Stock.objects.select_for_update().filter(warehouse_id=warehouse_id)
    if item_id is not None:
        qs = qs.filter(item_id=item_id)
    list(qs.order_by("item_id").values_list("pk", flat=True))


def _last_ledger_id(warehouse_id: int, item_id: int | None = None) -> int:
    qs = LedgerEntry.objects.filter(warehouse_id=warehouse_id)
    if item_id is not None:
        qs = qs.filter(item_id=item_id)
    return qs.aggregate(last=Max("id"))["last"] or 0


def count_sheets_freeze(*, stocktake: Stocktake) -> list[CountSheet]:
    """Create the count sheets of a consumable stocktake that is starting: per warehouse, the
    book quantity and average cost of every item stocked there (in the item categories
    counted; inactive items only when they still hold stock). Called by ``stocktake_start``
    inside its transaction, with the stocktake locked."""
    warehouses = list(stocktake.warehouses.order_by("pk"))
    if not warehouses:
        raise ValidationError(_("Choose at least one warehouse to count."), code="no_warehouse")
    category_ids = _category_ids(stocktake)
    now = timezone.now()
    sheets = []
    for warehouse in warehouses:
        _lock_rows(warehouse.pk)
        frozen = _last_ledger_id(warehouse.pk)
        sheet = CountSheet.objects.create(
            stocktake=stocktake, warehouse=warehouse, frozen_at=now, frozen_ledger_id=frozen
        )
        rows = Stock.objects.filter(warehouse=warehouse).filter(
            Q(item__is_active=True) | ~Q(quantity=0)
        )
        if category_ids is not None:
            rows = rows.filter(item__category_id__in=category_ids)
        CountLine.objects.bulk_create(
            (
                CountLine(sheet=sheet, item_id=item_id, book_quantity=quantity, unit_cost=average)
                for item_id, quantity, average in rows.order_by("item_id").values_list(
                    "item_id", "quantity", "average_cost"
                )
            ),
            batch_size=1000,
        )
        sheets.append(sheet)
    return sheets


# --- Counting ---------------------------------------------------------------------------------


def parse_counted(value, item: Item) -> Decimal:
    """A counted quantity: zero or more, in the item's decimal places."""
    try:
        number = _decimal(value)
    except ValueError:
        raise ValidationError(_("Enter a number."), code="not_a_number") from None
    if number is None:
        raise ValidationError(_("Enter the quantity counted."), code="required")
    if number < 0:
        raise ValidationError(_("The counted quantity cannot be negative."), code="negative")
    if number >= MAX_QUANTITY:
        raise ValidationError(_("The quantity is too large."), code="too_large")
    step = Decimal(1).scaleb(-item.quantity_decimals)
    if number != number.quantize(step):
        if item.quantity_decimals == 0:
            raise ValidationError(
                _("%(item)s is counted in whole units (%(unit)s).")
                % {"item": item, "unit": item.unit},
                code="fraction",
            )
        raise ValidationError(
            _("%(item)s is counted to at most %(places)s decimal places.")
            % {"item": item, "places": item.quantity_decimals},
            code="fraction",
        )
    return number.quantize(QTY_STEP)


def _cut(line: CountLine, warehouse_id: int) -> int:
    """Lock the line's stock row (postings in flight finish first) and return the item's
    last ledger id in the warehouse: the count's cut."""
    _lock_rows(warehouse_id, line.item_id)
    return _last_ledger_id(warehouse_id, line.item_id)


@transaction.atomic
def count_line_set(*, line: CountLine, actor, quantity) -> CountLine:
    """Record the quantity counted of one line (replacing an earlier count)."""
    sheet = CountSheet.objects.select_related("warehouse__location").get(pk=line.sheet_id)
    _require_count(actor, sheet)
    _require_counting(sheet)
    locked = CountLine.objects.select_for_update().get(pk=line.pk)
    item = Item.objects.get(pk=locked.item_id)
    counted = parse_counted(quantity, item)
    locked.counted_quantity = counted
    locked.counted_at = timezone.now()
    locked.counted_by = actor
    locked.counted_ledger_id = _cut(locked, sheet.warehouse_id)
    locked.save(update_fields=["counted_quantity", "counted_at", "counted_by", "counted_ledger_id"])
    locked.item = item
    locked.sheet = sheet
    return locked


@dataclass
class SheetScan:
    """What a barcode scan on a count sheet did."""

    line: CountLine
    item: Item
    replay: bool = False
    added: bool = False  # the item was not on the sheet: a line was added

    @property
    def message(self) -> str:
        return _("%(item)s: %(count)s counted.") % {
            "item": self.item,
            "count": f"{format_quantity(self.line.counted_quantity)}{self.item.unit}",
        }


def _book_at_freeze(sheet: CountSheet, item_id: int) -> tuple[Decimal, Decimal]:
    """(quantity, average cost) of an item in the sheet's warehouse at the freeze, from the
    last ledger entry up to the freeze point."""
    entry = (
        LedgerEntry.objects.filter(
            item_id=item_id, warehouse_id=sheet.warehouse_id, id__lte=sheet.frozen_ledger_id
        )
        .order_by("-id")
        .values_list("balance_after", "value_after")
        .first()
    )
    if entry is None or not entry[0]:
        return ZERO, ZERO
    quantity, value = entry
    return quantity, (value / quantity).quantize(Decimal("0.0001"))


def _line_for_item(sheet: CountSheet, item: Item) -> tuple[CountLine, bool]:
    """The item's line on the sheet, added (book quantity at the freeze) if it was not on it
    (an item found on the shelf that the sheet did not list)."""
    line = CountLine.objects.filter(sheet=sheet, item=item).first()
    if line is not None:
        return line, False
    stocktake = Stocktake.objects.get(pk=sheet.stocktake_id)
    if not item.is_active or not _item_in_scope(item, _category_ids(stocktake)):
        raise ScanRefused(
            _("%(item)s is not counted in this stocktake.") % {"item": item}, code="scope"
        )
    book, average = _book_at_freeze(sheet, item.pk)
    try:
        with transaction.atomic():
            line = CountLine.objects.create(
                sheet=sheet, item=item, book_quantity=book, unit_cost=average
            )
    except IntegrityError:  # added by a concurrent scan
        return CountLine.objects.get(sheet=sheet, item=item), False
    return line, True


def count_sheet_scan(*, sheet: CountSheet, actor, code, scan_id) -> SheetScan:
    """A barcode (or item code) scanned on a count sheet: one more of the item counted.
    Idempotent per ``scan_id`` (a retried request counts once). Raises ``ScanRefused``
    (nothing recorded) or ``PermissionDenied``."""
    scan_uuid = _parse_scan_id(scan_id)
    code = clean_code(code)
    sheet = CountSheet.objects.select_related("warehouse__location").get(pk=sheet.pk)
    _require_count(actor, sheet)
    try:
        with transaction.atomic():
            return _scan(sheet=sheet, actor=actor, code=code, scan_id=scan_uuid)
    except IntegrityError:
        replay = _scan_replay(sheet, scan_uuid)
        if replay is None:
            raise
        return replay


def _scan_replay(sheet: CountSheet, scan_id: uuid.UUID) -> SheetScan | None:
    scan = (
        StocktakeScan.objects.filter(stocktake_id=sheet.stocktake_id, scan_id=scan_id)
        .select_related("item")
        .first()
    )
    if scan is None or scan.item is None:
        return None
    line = CountLine.objects.filter(sheet=sheet, item=scan.item).first()
    if line is None:
        return None
    return SheetScan(line=line, item=scan.item, replay=True)


def _scan(*, sheet: CountSheet, actor, code: str, scan_id: uuid.UUID) -> SheetScan:
    try:
        _require_counting(sheet)
    except ValidationError as exc:
        replay = _scan_replay(sheet, scan_id)
        if replay is not None:
            return replay
        raise ScanRefused(exc.messages[0], code=exc.code) from None
    replay = _scan_replay(sheet, scan_id)
    if replay is not None:
        return replay
    item = Item.objects.filter(Q(barcode=code) | Q(code=code)).order_by("-barcode").first()
    if item is None:
        raise ScanRefused(
            _("No item has the barcode or code “%(code)s”.") % {"code": code}, code="unknown"
        )
    line, added = _line_for_item(sheet, item)
    # The scan row first: a concurrent retry of the same scan fails here, before counting.
    StocktakeScan.objects.create(
        stocktake_id=sheet.stocktake_id,
        scan_id=scan_id,
        raw_code=code,
        counter=actor,
        location_id=sheet.warehouse.location_id,
        result=StocktakeScan.Result.COUNTED,
        item=item,
    )
    locked = CountLine.objects.select_for_update().get(pk=line.pk)
    locked.counted_quantity = (locked.counted_quantity or ZERO) + 1
    locked.counted_at = timezone.now()
    locked.counted_by = actor
    locked.counted_ledger_id = _cut(locked, sheet.warehouse_id)
    if locked.counted_quantity >= MAX_QUANTITY:
        raise ScanRefused(_("The quantity is too large."), code="too_large")
    locked.save(update_fields=["counted_quantity", "counted_at", "counted_by", "counted_ledger_id"])
    locked.item = item
    return SheetScan(line=locked, item=item, added=added)


# --- Posting ----------------------------------------------------------------------------------


def _movements(sheet: CountSheet) -> dict[int, Decimal]:
    """line id → the ledger movements of its item in the sheet's warehouse after the freeze
    up to the count (all of them for a line not counted): one query for the sheet."""
    moved = (
        LedgerEntry.objects.filter(
            item_id=OuterRef("item_id"),
            warehouse_id=sheet.warehouse_id,
            id__gt=sheet.frozen_ledger_id,
            id__lte=OuterRef("cut"),
        )
        .order_by()
        .values("item_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    rows = (
        CountLine.objects.filter(sheet=sheet)
        .annotate(cut=Coalesce("counted_ledger_id", _NO_CUT))
        .annotate(moved=Coalesce(Subquery(moved), Value(ZERO)))
        .values_list("pk", "moved")
    )
    return dict(rows)


def _uncounted_error(sheet: CountSheet, lines: list[CountLine]) -> ValidationError:
    names = "、".join(str(line.item) for line in lines[:5])
    return ValidationError(
        _(
            "%(n)s item(s) in %(warehouse)s are not counted yet (%(items)s). Enter 0 for "
            "items that are not there."
        )
        % {"n": len(lines), "warehouse": sheet.warehouse, "items": names},
        code="uncounted",
    )


def _post_documents(
    *, sheet: CountSheet, actor, doc_type: str, lines: list[CountLine], reason: str
) -> list[Document]:
    """Post ``lines`` as documents of ``doc_type`` (at most MAX_LINES lines each)."""
    sign = "gain" if doc_type == DocumentType.STOCKTAKE_GAIN else "loss"
    documents = []
    for n, start in enumerate(range(0, len(lines), MAX_LINES), start=1):
        chunk = lines[start : start + MAX_LINES]
        specs = []
        for line in chunk:
            spec = {"item": line.item, "quantity": abs(line.variance)}
            if doc_type == DocumentType.STOCKTAKE_GAIN and line.unit_cost > 0:
                spec["unit_cost"] = line.unit_cost
            specs.append(spec)
        result = document_create_and_post(
            actor=actor,
            type=doc_type,
            lines=specs,
            idempotency_key=f"{KEY_PREFIX}-{sheet.pk}-{sign}-{n}",
            warehouse=sheet.warehouse,
            reason=reason,
        )
        documents.append(result.document)
        amounts = dict(
            DocumentLine.objects.filter(document=result.document).values_list("item_id", "amount")
        )
        for line in chunk:
            amount = amounts.get(line.item_id) or ZERO
            line.variance_value = amount if line.variance > 0 else -amount
    return documents


def sheet_documents(sheet: CountSheet) -> list[Document]:
    """The documents a posted sheet posted, in order (usually one gain and one loss)."""
    return list(
        Document.objects.filter(idempotency_key__startswith=f"{KEY_PREFIX}-{sheet.pk}-").order_by(
            "id"
        )
    )


def count_sheets_post(*, stocktake: Stocktake, actor) -> list[CountSheet]:
    """Post the variances of every count sheet of a closing consumable stocktake. Called by
    ``stocktake_close`` inside its transaction with the stocktake locked; raises (and so
    closes nothing) when a line is not counted or a posting is refused (permissions, stock
    that would go below zero)."""
    sheets = list(
        CountSheet.objects.select_for_update()
        .filter(stocktake=stocktake)
        .select_related(None)
        .order_by("pk")
    )
    now = timezone.now()
    for sheet in sheets:
        if sheet.status == SheetState.POSTED:
            raise ValidationError(
                _("The count of %(warehouse)s is already posted.") % {"warehouse": sheet.warehouse},
                code="posted",
            )
        sheet.warehouse = Warehouse.objects.get(pk=sheet.warehouse_id)
        lines = list(CountLine.objects.select_for_update().filter(sheet=sheet).order_by("item_id"))
        items = {i.pk: i for i in Item.objects.filter(pk__in=[line.item_id for line in lines])}
        moved = _movements(sheet)
        uncounted = []
        for line in lines:
            line.item = items[line.item_id]
            line.movements = moved.get(line.pk, ZERO)
            expected = line.book_quantity + line.movements
            if line.counted_quantity is None:
                if expected != 0:
                    uncounted.append(line)
                    continue
                line.counted_quantity = ZERO
            line.variance = line.counted_quantity - expected
            line.variance_value = ZERO
        if uncounted:
            raise _uncounted_error(sheet, uncounted)
        reason = _("Stocktake “%(name)s”: %(warehouse)s") % {
            "name": stocktake.name,
            "warehouse": sheet.warehouse,
        }
        gains = [line for line in lines if line.variance > 0]
        losses = [line for line in lines if line.variance < 0]
        documents = {}
        for doc_type, chosen in (
            (DocumentType.STOCKTAKE_GAIN, gains),
            (DocumentType.STOCKTAKE_LOSS, losses),
        ):
            if chosen:
                documents[doc_type] = _post_documents(
                    sheet=sheet, actor=actor, doc_type=doc_type, lines=chosen, reason=reason
                )
        CountLine.objects.bulk_update(
            lines,
            ["counted_quantity", "movements", "variance", "variance_value"],
            batch_size=500,
        )
        sheet.status = SheetState.POSTED
        sheet.gain_document = (documents.get(DocumentType.STOCKTAKE_GAIN) or [None])[0]
        sheet.loss_document = (documents.get(DocumentType.STOCKTAKE_LOSS) or [None])[0]
        sheet.posted_at = now
        sheet.posted_by = actor
        sheet.save(
            update_fields=["status", "gain_document", "loss_document", "posted_at", "posted_by"]
        )
    return sheets
