"""Depreciation (折旧) of one asset, month by month. Pure Python: no database, no models.

Conventions (企业会计准则第4号 — 固定资产, and common practice in Chinese ledgers):

- **Money** is ``Decimal`` in yuan with two places (cents). Every figure is rounded with
  ``ROUND_HALF_UP`` to 0.01. The residual value is ``cost × residual_rate / 100`` rounded; the
  depreciable amount is ``cost − residual``.
- **Residual rate** is a percentage, as stored on ``Category``/``Asset`` (``5.00`` = 5 %).
- **Start**: depreciation starts the month *after* acquisition (当月增加的固定资产当月不提折旧，
  从下月起计提): an asset acquired on any day of March is first depreciated in April.
- **Disposal**: the month of disposal *is* depreciated (当月减少的固定资产当月照提，从下月起
  不提); no month after it is.
- **End**: depreciation stops when the accumulated amount reaches ``cost − residual``; a fully
  depreciated asset stays at its residual value (提足折旧后不再计提).

How the amounts are made. The life is cut into *blocks* of months that share one amount:

- 年限平均法 (straight-line): one block, the whole life, ``cost − residual``.
- 年数总和法 (sum-of-the-years' digits): one block per depreciation year (months 1–12, 13–24,
  …, counted from the first depreciation month). Year *k* of *n* gets
  ``(n − k + 1) / (n(n + 1)/2) × (cost − residual)``.
- 双倍余额递减法 (double-declining balance): one block per depreciation year at the annual rate
  ``2 / years`` on the year's opening net book value (the residual is ignored, except that the
  book value never falls below it), until the last 24 months, which are one straight-line
  block of ``(net book value − residual)``. A life of 24 months or less is straight-line
  throughout.

Within a block every month gets ``block total / months`` (rounded); the block's last month takes
what rounding left over, so each depreciation year sums to its annual amount as computed in a
hand table, and the last block ends exactly at ``cost − residual``. A rounded-up monthly amount
never overshoots: a block stops once its total is reached.

A life that is not a whole number of years (e.g. 42 months) ends with a partial depreciation
year. Sum-of-the-years' digits then uses each year's *remaining life* as its digit (42 months:
3.5, 2.5, 1.5 and 0.5 years over 8), which is the textbook formula for whole years; the last
partial year's share is spread over its months. Double-declining uses ``2 / (months / 12)`` as
the annual rate; a partial year before the straight-line phase is charged pro rata
(``opening value × rate × months / 12``), and the straight-line phase is always the last 24
months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The values of ``assets.models.DepreciationMethod`` (kept here so this module needs no models).
STRAIGHT_LINE = "straight_line"
DOUBLE_DECLINING = "double_declining"
SUM_OF_YEARS = "sum_of_years"
METHODS = (STRAIGHT_LINE, DOUBLE_DECLINING, SUM_OF_YEARS)
# Double-declining switches to straight-line for this many final months.
DDB_STRAIGHT_LINE_MONTHS = 24


def money(value) -> Decimal:
    """``value`` rounded half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MonthRow:
    """One month of a depreciation schedule."""

    month: date  # the first day of the month depreciated
    number: int  # 1 = the first depreciation month
    year: int  # depreciation year: 1 for months 1–12, 2 for 13–24, …
    amount: Decimal
    accumulated: Decimal
    net_book_value: Decimal


class Position(NamedTuple):
    """An asset's figures at the end of a month."""

    accumulated: Decimal
    net_book_value: Decimal
    this_month: Decimal


@dataclass(frozen=True)
class _Block:
    """Months ``start`` … ``start + months − 1`` sharing ``total`` (after ``before``)."""

    start: int
    months: int
    total: Decimal
    before: Decimal

    @property
    def monthly(self) -> Decimal:
        return money(self.total / self.months)

    def accumulated_after(self, done: int) -> Decimal:
        """Accumulated depreciation once ``done`` months of this block are charged."""
        if done >= self.months:
            return self.before + self.total
        return self.before + min(self.monthly * done, self.total)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """Whole months from ``start``'s month to ``end``'s month (0 for the same month)."""
    return (end.year - start.year) * 12 + end.month - start.month


class _Plan:
    """The blocks of one asset's depreciation (validated inputs)."""

    def __init__(self, *, cost, life_months, residual_rate, method):
        cost = Decimal(cost)
        rate = Decimal(residual_rate)
        if cost < 0:
            raise ValueError("cost must not be negative")
        if life_months < 1:
            raise ValueError("life_months must be at least 1")
        if not Decimal(0) <= rate <= Decimal(100):
            raise ValueError("residual_rate is a percentage from 0 to 100")
        if method not in METHODS:
            raise ValueError(f"unknown depreciation method {method!r}")
        self.cost = money(cost)
        self.residual = money(self.cost * rate / 100)
        self.depreciable = self.cost - self.residual
        self.life = life_months
        self.blocks = {
            STRAIGHT_LINE: self._straight_line,
            SUM_OF_YEARS: self._sum_of_years,
            DOUBLE_DECLINING: self._double_declining,
        }[method]()

    def _straight_line(self) -> list[_Block]:
        return [_Block(1, self.life, self.depreciable, ZERO)]

    def _years(self, months: int) -> list[tuple[int, int]]:
        """(first month, length) of each depreciation year within the first ``months``."""
        return [(start, min(12, months - start + 1)) for start in range(1, months + 1, 12)]

    def _sum_of_years(self) -> list[_Block]:
        years = self._years(self.life)
        # Each year's digit is its remaining life at its start (in months: same ratios).
        weights = [self.life - start + 1 for start, _length in years]
        total_weight = sum(weights)
        blocks, done = [], ZERO
        for i, ((start, length), weight) in enumerate(zip(years, weights, strict=True)):
            remaining = self.depreciable - done
            if i == len(years) - 1:
                amount = remaining
            else:
                amount = min(money(self.depreciable * weight / total_weight), remaining)
            blocks.append(_Block(start, length, amount, done))
            done += amount
        return blocks

    def _double_declining(self) -> list[_Block]:
        declining = max(0, self.life - DDB_STRAIGHT_LINE_MONTHS)
        blocks, done = [], ZERO
        for start, length in self._years(declining):
            book_value = self.cost - done
            # annual = book value × 2 / (life / 12); a partial year is charged pro rata.
            amount = money(book_value * 2 * length / self.life)
            amount = max(ZERO, min(amount, book_value - self.residual))
            blocks.append(_Block(start, length, amount, done))
            done += amount
        blocks.append(_Block(declining + 1, self.life - declining, self.depreciable - done, done))
        return blocks

    def accumulated(self, number: int) -> Decimal:
        """Accumulated depreciation after month ``number`` (0 = before the first month)."""
        if number <= 0:
            return ZERO
        if number >= self.life:
            return self.depreciable
        for block in self.blocks:
            if number < block.start + block.months:
                return block.accumulated_after(number - block.start + 1)
        return self.depreciable  # pragma: no cover (blocks cover the whole life)


def _last_number(first: date, disposed_on: date | None, life: int) -> int:
    """The last month number that may be charged (disposal month included)."""
    if disposed_on is None:
        return life
    return min(life, months_between(first, disposed_on) + 1)


def schedule(
    *,
    cost: Decimal,
    acquired: date,
    life_months: int,
    residual_rate: Decimal,
    method: str,
    disposed_on: date | None = None,
) -> list[MonthRow]:
    """Every month that is charged, from the month after ``acquired`` until the asset is fully
    depreciated, its life ends, or the month of ``disposed_on`` (included)."""
    plan = _Plan(cost=cost, life_months=life_months, residual_rate=residual_rate, method=method)
    first = add_months(acquired, 1)
    rows: list[MonthRow] = []
    previous = ZERO
    for number in range(1, _last_number(first, disposed_on, plan.life) + 1):
        if previous >= plan.depreciable:
            break
        accumulated = plan.accumulated(number)
        rows.append(
            MonthRow(
                month=add_months(first, number - 1),
                number=number,
                year=(number - 1) // 12 + 1,
                amount=accumulated - previous,
                accumulated=accumulated,
                net_book_value=plan.cost - accumulated,
            )
        )
        previous = accumulated
    return rows


def as_of(
    *,
    cost: Decimal,
    acquired: date,
    life_months: int,
    residual_rate: Decimal,
    method: str,
    disposed_on: date | None = None,
    month: date,
) -> Position:
    """(accumulated, net book value, this month's amount) at the end of ``month`` (any day of
    it). Costs a few operations per depreciation year, not per month: reports call it for every
    asset."""
    plan = _Plan(cost=cost, life_months=life_months, residual_rate=residual_rate, method=method)
    first = add_months(acquired, 1)
    number = months_between(first, month) + 1
    last = _last_number(first, disposed_on, plan.life)
    charged = min(number, last)
    accumulated = plan.accumulated(charged)
    this_month = ZERO
    if 1 <= number <= last:
        this_month = accumulated - plan.accumulated(number - 1)
    return Position(accumulated, plan.cost - accumulated, this_month)


def asset_position(asset, *, month: date) -> Position | None:
    """``as_of`` for an ``Asset`` (its overrides or its category's defaults; the category must
    be loaded). None when the asset cannot be depreciated: no cost, no purchase date, no useful
    life, or figures out of range."""
    if asset.cost is None or asset.purchase_date is None:
        return None
    life = asset.effective_useful_life_months
    if not life:
        return None
    try:
        return as_of(
            cost=asset.cost,
            acquired=asset.purchase_date,
            life_months=life,
            residual_rate=asset.effective_residual_rate,
            method=asset.category.depreciation_method,
            disposed_on=asset.disposed_on,
            month=month,
        )
    except ValueError:
        return None
