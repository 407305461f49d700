"""1,000 random documents (receipts at varied prices, issues, transfers, returns, stocktake
gains and losses, adjustments, reversals; some refused for want of stock), then:

- every stock row equals what an independent model of the rules predicts (quantity, value,
  average cost) and every refusal was predicted;
- every (item, warehouse) balance and value recomputed from the ledger equals the stock row,
  and each ledger entry's running balance and value follow from the one before.
"""

import copy
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from django.db.models import Sum

from assets.tests.factories import PersonFactory
from inventory import services
from inventory.models import Document, LedgerEntry, Stock

from .factories import ItemFactory, WarehouseFactory

DOCUMENTS = 1000
SEED = 20261121


def money(x: D) -> D:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def cost(x: D) -> D:
    return x.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


class Short(Exception):
    pass


@dataclass
class Model:
    """The valuation rules of docs/decisions.md, written again from the specification."""

    stock: dict = field(default_factory=dict)  # (item, warehouse) → [quantity, value, average]

    def put(self, key, quantity, amount):
        row = self.stock.setdefault(key, [D(0), D(0), D(0)])
        row[0] += quantity
        row[1] += amount
        row[2] = cost(row[1] / row[0])

    def average(self, key):
        return self.stock.get(key, [D(0), D(0), D(0)])[2]

    def take(self, key, quantity):
        row = self.stock.get(key)
        if row is None or row[0] < quantity:
            raise Short
        taken = row[1] if quantity == row[0] else min(money(quantity * row[2]), row[1])
        row[0] -= quantity
        row[1] -= taken
        return taken, row[2]

    def apply(self, type_, lines):
        """Apply a document's lines; returns the posted lines (with costs) or raises Short
        leaving the model unchanged."""
        trial = copy.deepcopy(self.stock)
        saved, self.stock = self.stock, trial
        posted = []
        try:
            for line in lines:
                item, wh, to_wh, direction, quantity, unit, amount = line
                if type_ == "transfer":
                    taken, avg = self.take((item, wh), quantity)
                    self.put((item, to_wh), quantity, taken)
                    posted.append((item, wh, to_wh, -1, quantity, avg, taken))
                elif direction < 0:
                    taken, avg = self.take((item, wh), quantity)
                    posted.append((item, wh, None, -1, quantity, avg, taken))
                else:
                    if amount is None:
                        unit = unit if unit is not None else self.average((item, wh))
                        amount = money(quantity * unit)
                    self.put((item, wh), quantity, amount)
                    posted.append((item, wh, None, 1, quantity, unit, amount))
        except Short:
            self.stock = saved
            raise
        return posted

    def reversal_lines(self, type_, posted):
        lines = []
        for item, wh, to_wh, direction, quantity, unit, amount in posted:
            if type_ == "transfer":
                lines.append((item, to_wh, wh, -1, quantity, None, None))
            elif direction > 0:
                lines.append((item, wh, None, -1, quantity, None, None))
            else:
                lines.append((item, wh, None, 1, quantity, unit, amount))
        return lines


def test_a_random_sequence_of_1000_documents_matches_the_model_and_the_ledger(make_user):
    # given: a keeper of three warehouses, four items (one counted in tenths of a metre)
    rng = random.Random(SEED)
    keeper = make_user("keeper")
    warehouses = [WarehouseFactory(keepers=[keeper]) for _ in range(3)]
    items = [ItemFactory() for _ in range(3)] + [ItemFactory(by_metre=True)]
    person = PersonFactory()
    model = Model()
    posted_docs = []  # (document, type, posted lines) that may still be reversed
    outcomes = {"posted": 0, "refused": 0, "reversed": 0, "reversal_refused": 0}

    def quantity(item):
        if item.quantity_decimals:
            return D(rng.randint(1, 500)) / 10
        return D(rng.randint(1, 20))

    # when
    for _ in range(DOCUMENTS):
        if posted_docs and rng.random() < 0.08:
            index = rng.randrange(len(posted_docs))
            document, type_, posted = posted_docs[index]
            lines = model.reversal_lines(type_, posted)
            try:
                model.apply(type_, lines)
                expected = "posted"
            except Short:
                expected = "refused"
            try:
                services.document_reverse(document=document, actor=keeper, reason="随机冲销")
                actual = "posted"
            except services.StockShortage:
                actual = "refused"
            assert actual == expected, (document.number, type_)
            if actual == "posted":
                posted_docs.pop(index)
                outcomes["reversed"] += 1
            else:
                outcomes["reversal_refused"] += 1
            continue

        type_ = rng.choices(
            [
                "receipt",
                "issue",
                "transfer",
                "return",
                "stocktake_gain",
                "stocktake_loss",
                "adjustment",
            ],
            [30, 35, 12, 6, 4, 5, 8],
        )[0]
        wh = rng.choice(warehouses)
        to_wh = rng.choice([w for w in warehouses if w != wh]) if type_ == "transfer" else None
        header = {"warehouse": wh}
        if type_ == "transfer":
            header["to_warehouse"] = to_wh
        if type_ in ("issue", "return"):
            header["person"] = person
        if type_ in ("adjustment", "stocktake_gain", "stocktake_loss"):
            header["reason"] = "随机"
        raw_lines, model_lines = [], []
        for item in rng.sample(items, rng.randint(1, 3)):
            q = quantity(item)
            direction = {"issue": -1, "transfer": -1, "stocktake_loss": -1}.get(type_, 1)
            if type_ == "adjustment":
                direction = rng.choice([1, -1])
            unit = amount = None
            if direction > 0 and (type_ == "receipt" or rng.random() < 0.5):
                if rng.random() < 0.3:
                    amount = D(rng.randint(0, 10_000_00)) / 100
                    unit = cost(amount / q)
                else:
                    unit = D(rng.randint(1, 9_999_9999)) / 10_000
                    amount = money(q * unit)
            line = {"item": item, "quantity": q, "direction": "in" if direction > 0 else "out"}
            if amount is not None:
                line["amount"] = amount
                line["unit_cost"] = unit
            raw_lines.append(line)
            model_lines.append(
                (item.pk, wh.pk, to_wh.pk if to_wh else None, direction, q, unit, amount)
            )
        try:
            posted = model.apply(type_, model_lines)
            expected = "posted"
        except Short:
            expected = "refused"
        try:
            result = services.document_create_and_post(
                actor=keeper, type=type_, lines=raw_lines, **header
            )
            actual = "posted" if result.posted else "no-op"
        except services.StockShortage:
            actual = "refused"
        assert actual == expected, (type_, raw_lines)
        outcomes[actual] += 1
        if actual == "posted":
            posted_docs.append((result.document, type_, posted))

    # then: the sequence exercised every path
    assert outcomes["posted"] > 500 and outcomes["refused"] > 30, outcomes
    assert outcomes["reversed"] > 30 and outcomes["reversal_refused"] > 0, outcomes
    assert Document.objects.filter(status="draft").count() == 0  # refusals left nothing

    # then: every stock row is what the model predicts, to the last digit
    actual = {
        (s.item_id, s.warehouse_id): [s.quantity, s.value, s.average_cost]
        for s in Stock.objects.all()
    }
    assert actual == model.stock

    # then: balances and values recomputed from the ledger equal the stock rows
    sums = {
        (r["item_id"], r["warehouse_id"]): [r["q"], r["v"]]
        for r in LedgerEntry.objects.values("item_id", "warehouse_id").annotate(
            q=Sum("quantity"), v=Sum("value_change")
        )
    }
    assert sums == {key: row[:2] for key, row in actual.items()}
    running = {}
    for entry in LedgerEntry.objects.order_by("id").iterator():
        key = (entry.item_id, entry.warehouse_id)
        q, v = running.get(key, (D(0), D(0)))
        q, v = q + entry.quantity, v + entry.value_change
        assert (entry.balance_after, entry.value_after) == (q, v), entry.pk
        assert q >= 0 and v >= 0
        running[key] = (q, v)
    assert {k: list(v) for k, v in running.items()} == sums
