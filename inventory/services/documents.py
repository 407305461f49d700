"""Stock documents: drafts, posting (the only code that changes stock) and reversal.

Documents
    ``document_create`` validates and saves a draft; ``document_update`` / ``document_delete``
    change or drop a draft; ``document_post`` posts it; ``document_create_and_post`` does both
    in one transaction (scanners, requisition fulfilment: a refusal leaves nothing behind);
    ``document_reverse`` posts a reversing document.

Posting (``_post``) is the only code that changes stock. In one transaction it:

1. locks the document row (``select_for_update``) when posting a saved draft: a second post
   of the same document waits, then finds it posted and returns
   ``PostResult(posted=False, message=...)``: a no-op. ``document_create_and_post`` has no
   row to lock yet: its document is inserted in step 5, and a replay is recognised by its
   idempotency key (a unique column);
2. locks the requisition it fulfils, if any;
3. locks the stock rows it touches one by one in a fixed order, sorted by
   ``(item_id, warehouse_id)``, so two postings over overlapping rows cannot deadlock. A
   missing row that receives stock is created first by an upsert (``INSERT ... ON DUPLICATE
   KEY UPDATE``, which takes the row's exclusive lock at once and tolerates a concurrent
   insert); a missing row that would give stock means none is available;
4. applies the lines in order with moving average cost (see ``_Balance``), refusing to take
   any balance below zero (``StockShortage``, naming item, warehouse, available and requested)
   before it has written anything;
5. takes the document's number (``RK-20261121-0001``, per type and day, from the race-safe
   sequence ``common.number_allocate``: one statement, its row locked from here to the end of
   the transaction), then writes the document (a new one is inserted already posted, with
   its lines and their costs; a draft is updated), one ``LedgerEntry`` per movement (running
   balance and value) and the stock rows;
6. schedules the signals (``inventory.signals``) on commit.

The hot path (a scanner's one-line issue) is one read for its checks (``_scan``), one locked
read and five writes: sequence, document, line, ledger entry, stock row, which on MariaDB go
as one statement that also commits (``statements.post_new``). A refusal is one locked read
and a rollback, or only the read when it already shows too little stock (no lock taken). On
MariaDB, outside a caller's transaction, a one-line issue without a requisition is the read
and ONE statement that locks, checks, takes, writes and commits (``_post_issue``,
``statements.post_issue``; docs/decisions.md 19).

The database's check constraints (quantity and value ≥ 0) are the second guard: if they
fire, the posting fails with the same ``StockShortage`` message and nothing is saved.

Valuation: moving average cost per (item, warehouse). Receipts (and every other inflow that
carries a cost) add ``amount = quantity × unit cost`` to the value and recompute
``average = value / quantity`` (4 places); outflows take ``quantity × average`` (2 places,
never more than the value held; all of it when the balance reaches zero). Transfers move the
value they take out. See docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from assets.models import Person

from .. import signals
from ..models import (
    DOCUMENT_PREFIX,
    Direction,
    Document,
    DocumentLine,
    Item,
    LedgerEntry,
    Requisition,
    RequisitionLine,
    Stock,
    Warehouse,
    format_quantity,
)
from . import statements
from .common import (
    PERM_CHANGE,
    PERM_DELETE,
    PERM_REVERSE,
    ZERO,
    PostResult,
    ReqState,
    Status,
    StockShortage,
    Type,
    _check_may_post,
    _require_manages,
    _require_perm,
    money,
    number_allocate,
    number_format,
    number_series,
    unit_cost_round,
)
from .validation import HEADER_FIELDS, _Draft, _validate, _warehouse_qs

# MySQL / MariaDB error codes of a violated check constraint (the second guard).
CHECK_VIOLATIONS = (3819, 4025)

# --- Drafts -----------------------------------------------------------------------------------


def _existing_by_key(key: str | None) -> Document | None:
    if not key:
        return None
    pk = statements.document_id_by_key(key)
    return None if pk is None else Document.objects.get(pk=pk)


@transaction.atomic
def document_create(
    *,
    actor,
    type: str,
    lines: Sequence[Mapping],
    idempotency_key: str | None = None,
    **header,
) -> Document:
    """Validate and save a draft document with its lines.

    ``lines``: mappings with ``item`` (an Item or its id) or ``barcode`` (a barcode or item
    code), ``quantity``, and for inflows ``unit_cost`` and/or ``amount``; adjustment lines
    also ``direction`` (``"in"`` / ``"out"``). Header: ``warehouse`` (for a transfer, where the
    items leave), ``to_warehouse`` (transfer), ``date``, ``supplier`` and ``invoice_no``
    (receipt), ``person`` / ``department`` (issue: who receives, return: who returns),
    ``requisition`` (issue), ``reason`` (required for adjustments).

    With an ``idempotency_key`` already used, the existing document is returned unchanged
    (``document.replayed`` is True): a replayed request creates nothing.
    """
    idempotency_key = (idempotency_key or "").strip()[:64] or None
    existing = _existing_by_key(idempotency_key)
    if existing is not None:
        existing.replayed = True
        return existing
    draft = _validate(actor=actor, type=type, header=header, lines=lines)
    return _save_draft(actor=actor, draft=draft, idempotency_key=idempotency_key)


def _save_draft(*, actor, draft: _Draft, idempotency_key: str | None) -> Document:
    """Insert the draft and its lines."""
    document = Document(type=draft.type, operator=actor, idempotency_key=idempotency_key)
    for name, value in draft.header.items():
        setattr(document, name, value)
    if idempotency_key is None:
        document.save()
    else:
        try:
            with transaction.atomic():
                document.save()
        except IntegrityError:
            existing = _existing_by_key(idempotency_key)
            if existing is None:
                raise
            existing.replayed = True  # the same request, sent twice at once
            return existing
    document.replayed = False
    _save_lines(document, draft.lines)
    return document


def _save_lines(document: Document, lines: list[DocumentLine]) -> list[DocumentLine]:
    """Insert a document's lines (its own, not yet visible to anyone else); returns them with
    their ids (re-read where the database cannot return ids from a bulk insert)."""
    for line in lines:
        line.document = document
    if len(lines) == 1:
        # One INSERT that answers the id on every database (bulk_create cannot on MySQL).
        statements.insert(lines[0])
        return lines
    DocumentLine.objects.bulk_create(lines)
    if all(line.pk for line in lines):
        return lines
    saved = list(document.lines.order_by("id"))
    for line, row in zip(lines, saved, strict=True):
        line.pk = row.pk
    return lines


def _lock_draft(document: Document) -> Document:
    locked = Document.objects.select_for_update().get(pk=document.pk)
    if locked.status != Status.DRAFT:
        raise ValidationError(
            _("%(document)s is posted: it cannot be changed or deleted; reverse it instead.")
            % {"document": locked},
            code="posted",
        )
    return locked


@transaction.atomic
def document_update(
    *, document: Document, actor, lines: Sequence[Mapping] | None = None, **header
) -> Document:
    """Change a draft's header (only the fields given) and, if ``lines`` is given, replace
    its lines. Posted documents are refused."""
    locked = _lock_draft(document)
    _require_perm(actor, PERM_CHANGE, _("You are not allowed to change stock documents."))
    _require_manages(actor, locked.warehouse)
    merged = {name: getattr(locked, name) for name in HEADER_FIELDS}
    merged.update(header)
    if lines is None:
        lines = [
            {
                "item": line.item,
                "quantity": line.quantity,
                "unit_cost": line.unit_cost,
                "amount": line.amount,
                "direction": line.direction,
            }
            for line in locked.lines.select_related("item")
        ]
    draft = _validate(actor=actor, type=locked.type, header=merged, lines=lines)
    for name, value in draft.header.items():
        setattr(locked, name, value)
    locked.save()
    DocumentLine.objects.filter(document=locked).delete()
    _save_lines(locked, draft.lines)
    return locked


@transaction.atomic
def document_delete(*, document: Document, actor) -> None:
    """Drop a draft. Posted documents are never deleted."""
    locked = _lock_draft(document)
    _require_perm(actor, PERM_DELETE, _("You are not allowed to delete stock documents."))
    _require_manages(actor, locked.warehouse)
    locked.delete()


# --- Posting ----------------------------------------------------------------------------------


@dataclass
class _Balance:
    """A locked stock row being changed in memory (``stock`` is None until it exists)."""

    item: Item
    warehouse: Warehouse
    stock: Stock | None
    quantity: Decimal = ZERO
    value: Decimal = ZERO
    average: Decimal = ZERO
    start_quantity: Decimal = ZERO
    changed: bool = False

    @classmethod
    def of(cls, item, warehouse, stock):
        if stock is None:
            return cls(item=item, warehouse=warehouse, stock=None)
        return cls(
            item=item,
            warehouse=warehouse,
            stock=stock,
            quantity=stock.quantity,
            value=stock.value,
            average=stock.average_cost,
            start_quantity=stock.quantity,
        )

    def put(self, quantity: Decimal, amount: Decimal) -> None:
        """Receive ``quantity`` worth ``amount``: moving average recomputed."""
        self.quantity += quantity
        self.value += amount
        if self.quantity > 0:
            self.average = unit_cost_round(self.value / self.quantity)
        self.changed = True

    def take(self, quantity: Decimal) -> Decimal:
        """Give ``quantity`` at the current average; returns the value taken (≥ 0)."""
        if not stock_available(self.quantity, quantity):
            raise StockShortage(
                item=self.item,
                warehouse=self.warehouse,
                available=self.quantity,
                requested=quantity,
            )
        if quantity >= self.quantity:
            taken = self.value  # the last unit takes what is left, rounding included
        else:
            taken = min(money(quantity * self.average), self.value)
        self.quantity -= quantity
        self.value -= taken
        self.changed = True
        return taken


def stock_available(on_hand: Decimal, requested: Decimal) -> bool:
    """The first guard: a balance may not go below zero (the database's check is the second)."""
    return requested <= on_hand


def _lock_balances(
    keys: Iterable[tuple[int, int]],
    inflow: set[tuple[int, int]],
    items: dict[int, Item],
    warehouses: dict[int, Warehouse],
) -> dict[tuple[int, int], _Balance]:
    """Lock every (item, warehouse) row in sorted order, creating those that receive stock."""
    balances = {}
    for key in sorted(keys):
        stock = statements.stock_lock(*key)
        if stock is None and key in inflow:
            statements.stock_upsert(*key)
            stock = statements.stock_lock(*key)
        balances[key] = _Balance.of(items[key[0]], warehouses[key[1]], stock)
    return balances


@dataclass
class _Movement:
    line: DocumentLine
    key: tuple[int, int]
    sign: int


def _movements(lines: Sequence[DocumentLine], type: str) -> list[_Movement]:
    moves = []
    for line in lines:
        moves.append(_Movement(line, (line.item_id, line.warehouse_id), line.direction))
        if type == Type.TRANSFER:
            moves.append(_Movement(line, (line.item_id, line.to_warehouse_id), Direction.IN))
    return moves


def _already_posted(document: Document) -> PostResult:
    if document.status == Status.REVERSED:
        message = _("%(document)s was posted and has been reversed; nothing was changed.")
    else:
        message = _("%(document)s is already posted; nothing was changed.")
    return PostResult(document=document, posted=False, message=message % {"document": document})


def document_post(*, document: Document, actor) -> PostResult:
    """Post a draft: stock, ledger, number. Posting a posted document again changes nothing
    and returns ``posted=False`` with a message. Raises ``StockShortage`` when a balance would
    go below zero, ``ValidationError`` / ``PermissionDenied`` otherwise (nothing saved)."""
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != Status.DRAFT:
            result = _already_posted(locked)
        else:
            locked.warehouse = _warehouse_qs().get(pk=locked.warehouse_id)
            _check_may_post(actor, locked)
            lines = list(
                DocumentLine.objects.filter(document=locked)
                .select_related("item", "warehouse__location", "to_warehouse__location")
                .order_by("id")
            )
            result = _post(locked, lines, actor)
    _refresh_caller(document, result.document)
    return result


def _refresh_caller(document: Document, posted: Document) -> None:
    if document is posted:
        return
    for name in ("status", "number", "posted_at", "posted_by_id"):
        document.__dict__[name] = getattr(posted, name)


def _post(
    document: Document, lines: list[DocumentLine], actor, *, own_transaction: bool = False
) -> PostResult:
    """Apply the lines of a locked draft, or of a new document not saved yet, which is then
    inserted already posted with its lines (nothing is written before the stock checks pass).
    See the module docstring for the order of locks. ``own_transaction``: the caller opened
    the outermost transaction for this posting alone, and commits it as soon as ``_post``
    returns (on MariaDB the writing statement ends it; see ``statements.post_new``)."""
    _check_postable(document, lines)
    if document.requisition_id and document.type == Type.ISSUE:
        # Counted against the requisition first: an over-issue fails before any stock lock.
        requisition = Requisition.objects.select_for_update().get(pk=document.requisition_id)
        _requisition_apply(requisition, lines, reversal=document.reverses_id is not None)

    moves = _movements(lines, document.type)
    items = {line.item_id: line.item for line in lines}
    warehouses = {line.warehouse_id: line.warehouse for line in lines}
    warehouses.update(
        {line.to_warehouse_id: line.to_warehouse for line in lines if line.to_warehouse_id}
    )
    inflow = {m.key for m in moves if m.sign > 0}
    balances = _lock_balances({m.key for m in moves}, inflow, items, warehouses)

    now = timezone.now()
    entries: list[LedgerEntry] = []
    transfer_value: dict[int, tuple[Decimal, Decimal]] = {}  # id(line) → (value, unit cost)
    for move in moves:
        line, balance = move.line, balances[move.key]
        if move.sign < 0:
            unit = balance.average
            taken = balance.take(line.quantity)
            line.unit_cost, line.amount = unit, taken
            if document.type == Type.TRANSFER:
                transfer_value[id(line)] = (taken, unit)
            entries.append(_entry(document, line, balance, -line.quantity, unit, -taken, now))
        else:
            if document.type == Type.TRANSFER:
                amount, unit = transfer_value[id(line)]
            elif line.amount is not None:
                amount = line.amount
                if line.unit_cost is None:
                    line.unit_cost = unit_cost_round(amount / line.quantity)
                unit = line.unit_cost
            else:  # a return or gain without a cost: at the current average
                unit = line.unit_cost if line.unit_cost is not None else balance.average
                amount = money(line.quantity * unit)
                line.unit_cost, line.amount = unit, amount
            balance.put(line.quantity, amount)
            entries.append(_entry(document, line, balance, line.quantity, unit, amount, now))

    if document.pk is None and statements.writes_in_one_statement():
        # Created and posted at once, on MariaDB: the number, the document, its lines, the
        # ledger entries and the stock rows in one statement (one round trip while the stock
        # rows are locked, instead of five); the same writes as the branches below.
        document.status, document.posted_at, document.posted_by = Status.POSTED, now, actor
        series = number_series(DOCUMENT_PREFIX[document.type], day=document.date)
        stocks = _balances_to_write(balances, now)
        try:
            value = statements.post_new(
                document, lines, entries, stocks, series=series, commit=own_transaction
            )
        except IntegrityError as exc:
            _constraint_refusal(exc, balances)
            raise
        number = document.number = number_format(series, value)
        return _posted(document, balances, number)
    number = number_allocate(DOCUMENT_PREFIX[document.type], day=document.date)
    if document.pk is None:
        # Created and posted at once: one INSERT of the posted document (not through
        # Document.save, which writes only drafts), then its lines with their costs.
        document.status, document.number, document.posted_at = Status.POSTED, number, now
        document.posted_by = actor
        statements.insert(document)
        _save_lines(document, lines)
    else:
        Document.objects.filter(pk=document.pk).update(
            status=Status.POSTED, number=number, posted_at=now, posted_by=actor
        )
        document.status, document.number, document.posted_at = Status.POSTED, number, now
        document.posted_by = actor
        DocumentLine.objects.bulk_update(lines, ["unit_cost", "amount"])
    for entry in entries:
        entry.document_id, entry.line_id = document.pk, entry.line.pk
    statements.insert_many(entries)
    _write_balances(balances, now)
    return _posted(document, balances, number)


def _check_postable(document: Document, lines: Sequence[DocumentLine]) -> None:
    if not lines:
        raise ValidationError(_("A document without lines cannot be posted."), code="empty")
    if document.date > timezone.localdate():
        raise ValidationError(_("The date cannot be in the future."), code="future")


def _issue_in_one_statement(document: Document, lines: Sequence[DocumentLine]) -> bool:
    """Whether a new document can be posted by ``_post_issue``: one issue line without a
    requisition, on MariaDB, with no transaction open (the statement commits its own)."""
    return (
        document.type == Type.ISSUE
        and len(lines) == 1
        and lines[0].direction == Direction.OUT
        and not document.requisition_id
        and statements.commits_in_one_statement()
    )


def _post_issue(document: Document, line: DocumentLine, actor) -> PostResult:
    """Post a new one-line issue in one statement (``statements.post_issue``): the stock row
    is locked, checked, taken from and written while the database runs that statement, so a
    hot item's postings queue on its row only for as long as the database needs, not for
    this process's round trips and computing. The same checks, numbers and writes as
    ``_post``; the valuation of the take is ``_Balance.take``'s, done in SQL."""
    _check_postable(document, [line])
    now = timezone.now()
    document.status, document.posted_at, document.posted_by = Status.POSTED, now, actor
    series = number_series(DOCUMENT_PREFIX[document.type], day=document.date)
    entry = LedgerEntry(
        item_id=line.item_id,
        warehouse_id=line.warehouse_id,
        document=document,
        line=line,
        quantity=-line.quantity,
        posted_at=now,
    )
    written = statements.post_issue(document, line, entry, series=series, now=now)
    if written.taken is None:
        raise StockShortage(
            item=line.item,
            warehouse=line.warehouse,
            available=written.quantity if written.quantity is not None else ZERO,
            requested=line.quantity,
        )
    line.unit_cost, line.amount = written.average, written.taken
    balance = _Balance(
        item=line.item,
        warehouse=line.warehouse,
        stock=Stock(pk=written.stock_id, item_id=line.item_id, warehouse_id=line.warehouse_id),
        quantity=written.quantity - line.quantity,
        value=written.value - written.taken,
        average=written.average,
        start_quantity=written.quantity,
        changed=True,
    )
    entry.balance_after, entry.unit_cost = balance.quantity, written.average
    entry.value_change, entry.value_after = -written.taken, balance.value
    number = document.number = number_format(series, written.sequence)
    return _posted(document, {(line.item_id, line.warehouse_id): balance}, number)


def _posted(document: Document, balances: dict[tuple[int, int], _Balance], number: str):
    """Schedule the signals of a posting and answer its result."""
    signals.send_on_commit(signals.document_posted, Document, document_id=document.pk)
    for balance in balances.values():
        safety = balance.item.safety_stock
        if safety > 0 and balance.start_quantity >= safety > balance.quantity:
            signals.send_on_commit(
                signals.stock_below_safety,
                Stock,
                stock_id=balance.stock.pk,
                item_id=balance.item.pk,
                warehouse_id=balance.warehouse.pk,
            )
    message = _("%(document)s posted.") % {"document": number}
    return PostResult(document=document, posted=True, message=message)


def _entry(document, line, balance: _Balance, quantity, unit, value_change, now) -> LedgerEntry:
    return LedgerEntry(
        item_id=balance.item.pk,
        warehouse_id=balance.warehouse.pk,
        document=document,
        line=line,
        quantity=quantity,
        balance_after=balance.quantity,
        unit_cost=unit,
        value_change=value_change,
        value_after=balance.value,
        posted_at=now,
    )


def _balances_to_write(balances: dict[tuple[int, int], _Balance], now) -> list:
    """The changed stock rows and their new values, ``(stock, {field: value})``."""
    writes = []
    for balance in balances.values():
        if not balance.changed:
            continue
        if balance.stock is None:  # gave stock it never had (only if the first guard is off)
            raise StockShortage(
                item=balance.item,
                warehouse=balance.warehouse,
                available=ZERO,
                requested=-balance.quantity,
            )
        values = {
            "quantity": balance.quantity,
            "value": balance.value,
            "average_cost": balance.average,
            "updated_at": now,
        }
        writes.append((balance.stock, values))
    return writes


def _shortage(balance: _Balance) -> StockShortage:
    return StockShortage(
        item=balance.item,
        warehouse=balance.warehouse,
        available=balance.start_quantity,
        requested=balance.start_quantity - balance.quantity,
    )


def _constraint_refusal(exc: IntegrityError, balances: dict[tuple[int, int], _Balance]) -> None:
    """The database's check constraint (quantity, value ≥ 0), the second guard, refused a
    write of ``statements.post_new``: raise ``StockShortage`` for the balance it refused (any
    other integrity error, e.g. a duplicate idempotency key, is left to the caller)."""
    if exc.args and exc.args[0] in CHECK_VIOLATIONS:
        for balance in balances.values():
            if balance.changed and (balance.quantity < 0 or balance.value < 0):
                raise _shortage(balance) from None


def _write_balances(balances: dict[tuple[int, int], _Balance], now) -> None:
    balance_of = {id(b.stock): b for b in balances.values()}
    for stock, values in _balances_to_write(balances, now):
        try:
            statements.stock_write(
                stock,
                quantity=values["quantity"],
                value=values["value"],
                average_cost=values["average_cost"],
                now=now,
            )
        except IntegrityError:
            # The database's check constraint (quantity, value ≥ 0): the second guard.
            raise _shortage(balance_of[id(stock)]) from None


def document_create_and_post(
    *, actor, type: str, lines: Sequence[Mapping], idempotency_key: str | None = None, **header
) -> PostResult:
    """Create and post a document in one transaction: if posting is refused nothing is
    left behind, not even a draft (scanners, requisition fulfilment). A replayed
    ``idempotency_key`` returns the first request's result without changing anything.

    The document is inserted only once its stock rows are locked and checked (already
    posted, numbered, with its lines), so a refusal writes nothing. A scan (an issue of one
    line; see ``_scan``) reads what its checks need in one statement, the document holding
    its key included, and is refused without waiting for the stock row's lock when that read
    already shows too little stock. Otherwise the key is looked up only when the request
    cannot be a first one: when it is refused (e.g. the stock it took is gone, or the
    requisition it fulfilled has nothing left to issue) or its insert collides with the first
    request's document.
    """
    idempotency_key = (idempotency_key or "").strip()[:64] or None
    scan = _scan(actor, type, header, lines, idempotency_key)
    if scan is not None:
        if scan.read.existing_id is not None:
            return _replay(Document.objects.get(pk=scan.read.existing_id), actor)
        header, lines = scan.header, scan.lines
    try:
        draft = _validate(
            actor=actor,
            type=type,
            header=header,
            lines=lines,
            keeps=scan.keeps if scan is not None else None,
        )
        document = Document(type=draft.type, operator=actor, idempotency_key=idempotency_key)
        for name, value in draft.header.items():
            setattr(document, name, value)
        _check_may_post(actor, document, keeper_checked=True)
        shortage = scan.shortage(draft) if scan is not None else None
        if shortage is None:
            if _issue_in_one_statement(document, draft.lines):
                return _post_issue(document, draft.lines[0], actor)
            # Outermost: no savepoint; inside a caller's transaction: rolled back to its
            # savepoint if refused or on a duplicate key, so the key can still be looked up.
            outermost = connection.get_autocommit()  # no transaction open: ours alone
            with transaction.atomic():
                return _post(document, draft.lines, actor, own_transaction=outermost)
    except (ValidationError, PermissionDenied, IntegrityError):
        existing = _existing_by_key(idempotency_key)
        if existing is None:
            raise
    else:
        # Refused without the lock; the read that showed the shortage also showed that no
        # document held the key: not a replay.
        raise shortage
    # The same request, sent again (or twice at once): the first one's result, no change.
    return _replay(existing, actor)


def _replay(existing: Document, actor) -> PostResult:
    existing.replayed = True
    return document_post(document=existing, actor=actor)


@dataclass
class _ScanContext:
    """A scan's header and line with the objects ``statements.scan_read`` found in place of
    their ids (ids it did not find are left for ``_validate`` to report)."""

    read: statements.ScanRead
    header: dict
    lines: list[dict]
    keeps: bool | None

    def shortage(self, draft) -> StockShortage | None:
        """The refusal of the scan, without taking the stock row's lock, if the read showed
        less stock than it asks for: at that moment the stock was short, as the locked check
        would have found had it come first. Only outside a caller's transaction, where the
        read was a statement of its own (a fresh snapshot whatever the isolation level)."""
        if not connection.get_autocommit() or len(draft.lines) != 1:
            return None
        line, read = draft.lines[0], self.read
        if (
            line.direction != Direction.OUT
            or read.item is None
            or read.warehouse is None
            or line.item_id != read.item.pk
            or line.warehouse_id != read.warehouse.pk
        ):
            return None
        available = read.on_hand if read.on_hand is not None else ZERO
        if stock_available(available, line.quantity):
            return None
        return StockShortage(
            item=line.item, warehouse=line.warehouse, available=available, requested=line.quantity
        )


def _scan(actor, type: str, header: Mapping, lines: Sequence[Mapping], key: str | None):
    """The one-statement read of a scan, an issue of one line from a warehouse given by id
    and an item given by id or barcode (the scanner endpoint's request), by a signed-in user;
    None for anything else (validated as usual)."""
    if type != Type.ISSUE or len(lines) != 1 or not isinstance(lines[0], Mapping):
        return None
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    raw = lines[0]
    warehouse_id = _scan_id(Warehouse, header.get("warehouse"))
    item, person = raw.get("item"), header.get("person")
    if item in (None, ""):
        item_id, code = None, str(raw.get("barcode") or raw.get("code") or "").strip()
    else:
        item_id, code = _scan_id(Item, item), None
    person_id = None if isinstance(person, Person) else _scan_id(Person, person)
    if warehouse_id is None or (item_id is None and not code):
        return None
    if person not in (None, "") and not isinstance(person, Person) and person_id is None:
        return None
    read = statements.scan_read(
        warehouse_id=warehouse_id,
        item_id=item_id,
        code=code,
        person_id=person_id,
        user_id=actor.pk,
        key=key,
    )
    header = dict(header)
    line = dict(raw)
    keeps = None
    if read.warehouse is not None:
        header["warehouse"], keeps = read.warehouse, read.keeps
    if read.person is not None:
        header["person"] = read.person
    if read.item is not None:
        line.pop("barcode", None)
        line.pop("code", None)
        line["item"] = read.item
    return _ScanContext(read=read, header=header, lines=[line], keeps=keeps)


def _scan_id(model, value) -> int | None:
    """``value`` as the ORM would prepare it for ``model``'s primary key; None if it is not
    one (an instance, nothing, or a value the ORM would refuse)."""
    if value is None or value == "" or isinstance(value, models.Model):
        return None
    try:
        return model._meta.pk.get_prep_value(value)
    except (TypeError, ValueError):
        return None


# --- Reversal ---------------------------------------------------------------------------------


def _reversing_lines(original: Document) -> list[DocumentLine]:
    lines = []
    for line in original.lines.select_related(
        "item", "warehouse__location", "to_warehouse__location"
    ).order_by("id"):
        if original.type == Type.TRANSFER:
            # Back from where the items went, at that warehouse's current average.
            lines.append(
                DocumentLine(
                    item=line.item,
                    warehouse=line.to_warehouse,
                    to_warehouse=line.warehouse,
                    direction=Direction.OUT,
                    quantity=line.quantity,
                )
            )
        elif line.direction == Direction.IN:
            # Taking back what came in: an outflow at the current average.
            lines.append(
                DocumentLine(
                    item=line.item,
                    warehouse=line.warehouse,
                    direction=Direction.OUT,
                    quantity=line.quantity,
                )
            )
        else:
            # Putting back what went out: at exactly the value it took.
            lines.append(
                DocumentLine(
                    item=line.item,
                    warehouse=line.warehouse,
                    direction=Direction.IN,
                    quantity=line.quantity,
                    unit_cost=line.unit_cost,
                    amount=line.amount,
                )
            )
    return lines


@transaction.atomic
def document_reverse(*, document: Document, actor, reason: str) -> Document:
    """Post a document that undoes a posted one (红冲) and mark the original reversed.

    The reversing document has the same type, ``reverses`` the original, and opposite
    movements: what came in goes out at the current average cost, what went out comes back
    at the value it took, a transfer goes back. It may be refused like any posting (e.g. the
    received items were issued meanwhile). A reversing document cannot be reversed itself.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for the reversal.")]})
    _require_perm(actor, PERM_REVERSE, _("You are not allowed to reverse stock documents."))
    original = Document.objects.select_for_update().get(pk=document.pk)
    if original.status == Status.DRAFT:
        raise ValidationError(_("Only posted documents can be reversed."), code="draft")
    if original.status == Status.REVERSED:
        raise ValidationError(
            _("%(document)s has already been reversed.") % {"document": original},
            code="reversed",
        )
    if original.reverses_id is not None:
        raise ValidationError(
            _("%(document)s reverses another document and cannot be reversed itself.")
            % {"document": original},
            code="reversal",
        )
    lines = _reversing_lines(original)
    warehouse = lines[0].warehouse if lines else original.warehouse
    reversal = Document(
        type=original.type,
        date=timezone.localdate(),
        operator=actor,
        warehouse=warehouse,
        to_warehouse=original.warehouse if original.type == Type.TRANSFER else None,
        supplier_id=original.supplier_id,
        invoice_no=original.invoice_no,
        person_id=original.person_id,
        department_id=original.department_id,
        requisition_id=original.requisition_id,
        reason=reason,
        reverses=original,
    )
    reversal.warehouse = _warehouse_qs().get(pk=warehouse.pk)
    _check_may_post(actor, reversal)
    _post(reversal, lines, actor)  # inserts the reversal, posted
    Document.objects.filter(pk=original.pk).update(status=Status.REVERSED)
    document.__dict__["status"] = Status.REVERSED
    signals.send_on_commit(
        signals.document_reversed, Document, document_id=original.pk, reversal_id=reversal.pk
    )
    return reversal


# --- Requisitions (the effect of posting an issue against one) ---------------------------


def _announce(requisition: Requisition) -> None:
    signals.send_on_commit(
        signals.requisition_changed,
        Requisition,
        requisition_id=requisition.pk,
        state=requisition.state,
    )


def _requisition_apply(requisition: Requisition, lines: list[DocumentLine], *, reversal: bool):
    """Count an issue (or its reversal) against the locked requisition's lines."""
    if not reversal and not requisition.is_open:
        raise ValidationError(
            _("Requisition #%(id)s is “%(state)s”: nothing can be issued for it.")
            % {"id": requisition.pk, "state": requisition.get_state_display()},
            code="requisition_closed",
        )
    req_lines = {rl.item_id: rl for rl in RequisitionLine.objects.filter(requisition=requisition)}
    for line in lines:
        rl = req_lines.get(line.item_id)
        if rl is None:
            raise ValidationError(
                _("%(item)s is not on requisition #%(id)s.")
                % {"item": line.item, "id": requisition.pk},
                code="not_requested",
            )
        if reversal:
            rl.issued_quantity = max(rl.issued_quantity - line.quantity, ZERO)
        else:
            if line.quantity > rl.remaining:
                raise ValidationError(
                    _("Only %(left)s of %(item)s remain to be issued for this requisition.")
                    % {
                        "left": f"{format_quantity(rl.remaining)}{line.item.unit}",
                        "item": line.item,
                    },
                    code="over_issue",
                )
            rl.issued_quantity += line.quantity
    RequisitionLine.objects.bulk_update(list(req_lines.values()), ["issued_quantity"])
    issued = [rl.issued_quantity for rl in req_lines.values()]
    if requisition.state in (ReqState.CANCELLED, ReqState.REJECTED):
        state = requisition.state
    elif all(rl.issued_quantity >= rl.quantity for rl in req_lines.values()):
        state = ReqState.FULLY_ISSUED
    elif any(q > 0 for q in issued):
        state = ReqState.PARTLY_ISSUED
    else:
        state = ReqState.APPROVED
    requisition.state = state
    Requisition.objects.filter(pk=requisition.pk).update(state=state, updated_at=timezone.now())
    _announce(requisition)
