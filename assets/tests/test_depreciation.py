"""Depreciation figures, in cents, against tables computed by hand (assets/depreciation.py).

Each table is written out as an accountant would: the yearly amounts, then the monthly amount
(rounded half-up to 0.01) and the amount of the year's last month, which takes the rounding
difference so that the year adds up.
"""

from datetime import date
from decimal import Decimal

import pytest

from assets import depreciation
from assets.depreciation import (
    DOUBLE_DECLINING,
    STRAIGHT_LINE,
    SUM_OF_YEARS,
    MonthRow,
    Position,
    as_of,
    schedule,
)

D = Decimal


def amounts(rows: list[MonthRow]) -> list[Decimal]:
    return [r.amount for r in rows]


def year_months(*years: tuple[int, str, str]) -> list[Decimal]:
    """[(months, monthly, last month of the year)] → the amount of every month."""
    out = []
    for months, monthly, last in years:
        out += [D(monthly)] * (months - 1) + [D(last)]
    return out


# --- 年限平均法 (straight-line) -------------------------------------------------------------------
#
# Cost 12,000.00, residual 5 % = 600.00, 5 years (60 months): depreciable 11,400.00,
# 11,400.00 / 60 = 190.00 a month, 2,280.00 a year. Acquired 2024-03-15 → first month April.


def test_straight_line_12000_residual_5_percent_5_years():
    rows = schedule(
        cost=D("12000.00"),
        acquired=date(2024, 3, 15),
        life_months=60,
        residual_rate=D("5.00"),
        method=STRAIGHT_LINE,
    )

    assert len(rows) == 60
    assert rows[0] == MonthRow(
        month=date(2024, 4, 1),
        number=1,
        year=1,
        amount=D("190.00"),
        accumulated=D("190.00"),
        net_book_value=D("11810.00"),
    )
    assert set(amounts(rows)) == {D("190.00")}
    assert rows[11].month == date(2025, 3, 1)
    assert rows[11].accumulated == D("2280.00")
    assert rows[-1].month == date(2029, 3, 1)
    assert rows[-1].accumulated == D("11400.00")
    assert rows[-1].net_book_value == D("600.00")


# Laptop 8,999.00, residual 0, 3 years: 8,999.00 / 36 = 249.9722… → 249.97 for months 1–35
# (35 × 249.97 = 8,748.95); month 36 takes the rest: 8,999.00 − 8,748.95 = 250.05.
# Acquired 2024-01-31 (last day of January) → first month February 2024, last January 2027.


def test_straight_line_laptop_last_month_absorbs_rounding():
    rows = schedule(
        cost=D("8999.00"),
        acquired=date(2024, 1, 31),
        life_months=36,
        residual_rate=D("0"),
        method=STRAIGHT_LINE,
    )

    assert amounts(rows) == [D("249.97")] * 35 + [D("250.05")]
    assert rows[0].month == date(2024, 2, 1)
    assert rows[-1].month == date(2027, 1, 1)
    assert rows[-1].accumulated == D("8999.00")
    assert rows[-1].net_book_value == D("0.00")


# ROUND_HALF_UP, not banker's rounding: 100.14 / 12 = 8.345 → 8.35 (half-even would give 8.34);
# 11 × 8.35 = 91.85, the last month 100.14 − 91.85 = 8.29.


def test_monthly_amounts_round_half_up():
    rows = schedule(
        cost=D("100.14"),
        acquired=date(2024, 6, 10),
        life_months=12,
        residual_rate=D("0"),
        method=STRAIGHT_LINE,
    )

    assert amounts(rows) == [D("8.35")] * 11 + [D("8.29")]


def test_the_residual_value_rounds_half_up():
    # 333.33 × 5 % = 16.6665 → 16.67; depreciable 316.66 over 2 months = 158.33 each.
    rows = schedule(
        cost=D("333.33"),
        acquired=date(2024, 1, 1),
        life_months=2,
        residual_rate=D("5"),
        method=STRAIGHT_LINE,
    )

    assert amounts(rows) == [D("158.33"), D("158.33")]
    assert rows[-1].net_book_value == D("16.67")


def test_a_rounded_up_monthly_amount_never_overshoots():
    # 0.10 / 12 = 0.0083 → 0.01 a month: fully depreciated after 10 months, then no more.
    rows = schedule(
        cost=D("0.10"),
        acquired=date(2024, 1, 1),
        life_months=12,
        residual_rate=D("0"),
        method=STRAIGHT_LINE,
    )

    assert amounts(rows) == [D("0.01")] * 10
    assert rows[-1].net_book_value == D("0.00")


# --- 双倍余额递减法 (double-declining balance) ---------------------------------------------------
#
# Cost 12,000.00, residual 600.00, 5 years: annual rate 2/5 = 40 %.
#   year 1: 12,000.00 × 40 % = 4,800.00 → 400.00 a month; book value 7,200.00
#   year 2:  7,200.00 × 40 % = 2,880.00 → 240.00 a month; book value 4,320.00
#   year 3:  4,320.00 × 40 % = 1,728.00 → 144.00 a month; book value 2,592.00
#   years 4–5 (straight-line): (2,592.00 − 600.00) / 24 = 83.00 a month (996.00 a year)
#   total 4,800 + 2,880 + 1,728 + 1,992 = 11,400.00


def test_double_declining_12000_residual_5_percent_5_years():
    rows = schedule(
        cost=D("12000.00"),
        acquired=date(2024, 3, 1),
        life_months=60,
        residual_rate=D("5.00"),
        method=DOUBLE_DECLINING,
    )

    assert amounts(rows) == year_months(
        (12, "400.00", "400.00"),
        (12, "240.00", "240.00"),
        (12, "144.00", "144.00"),
        (24, "83.00", "83.00"),
    )
    assert [rows[i].net_book_value for i in (11, 23, 35, 47, 59)] == [
        D("7200.00"),
        D("4320.00"),
        D("2592.00"),
        D("1596.00"),
        D("600.00"),
    ]


# Laptop 8,999.00, residual 0, 3 years: rate 2/3.
#   year 1: 8,999.00 × 2/3 = 5,999.3333 → 5,999.33; 5,999.33 / 12 = 499.9441 → 499.94,
#           month 12: 5,999.33 − 11 × 499.94 (5,499.34) = 499.99; book value 2,999.67
#   years 2–3 (straight-line, residual 0): 2,999.67 / 24 = 124.9862 → 124.99,
#           month 36: 2,999.67 − 23 × 124.99 (2,874.77) = 124.90


def test_double_declining_laptop_3_years():
    rows = schedule(
        cost=D("8999.00"),
        acquired=date(2024, 12, 31),
        life_months=36,
        residual_rate=D("0"),
        method=DOUBLE_DECLINING,
    )

    assert amounts(rows) == year_months((12, "499.94", "499.99"), (24, "124.99", "124.90"))
    assert rows[0].month == date(2025, 1, 1)  # acquired 31 December → January of the next year
    assert rows[11].net_book_value == D("2999.67")
    assert rows[-1].month == date(2027, 12, 1)
    assert rows[-1].accumulated == D("8999.00")


# A life of 42 months (3.5 years): rate 2 / 3.5; straight-line for the last 24 months, so the
# declining phase is 18 months: a full year and a half year charged pro rata.
#   cost 8,400.00, residual 0
#   year 1 (12 months): 8,400.00 × 2/3.5 = 4,800.00 → 400.00 a month; book value 3,600.00
#   months 13–18: 3,600.00 × 2/3.5 × 6/12 = 1,028.5714 → 1,028.57; / 6 = 171.43,
#                 month 18: 1,028.57 − 5 × 171.43 = 171.42; book value 2,571.43
#   months 19–42: 2,571.43 / 24 = 107.1429 → 107.14, month 42: 2,571.43 − 23 × 107.14 = 107.21


def test_double_declining_with_a_partial_year():
    rows = schedule(
        cost=D("8400.00"),
        acquired=date(2024, 1, 1),
        life_months=42,
        residual_rate=D("0"),
        method=DOUBLE_DECLINING,
    )

    assert amounts(rows) == year_months(
        (12, "400.00", "400.00"), (6, "171.43", "171.42"), (24, "107.14", "107.21")
    )
    assert rows[17].net_book_value == D("2571.43")


def test_double_declining_over_two_years_or_less_is_straight_line():
    # 2,400.00, residual 0, 24 months: all of it is the "last two years" → 100.00 a month.
    rows = schedule(
        cost=D("2400.00"),
        acquired=date(2024, 1, 1),
        life_months=24,
        residual_rate=D("0"),
        method=DOUBLE_DECLINING,
    )

    assert amounts(rows) == [D("100.00")] * 24


def test_double_declining_never_goes_below_the_residual():
    # Residual 90 %: year 1 would be 1,000.00 × 40 % = 400.00 but only 100.00 may be charged
    # (book value 1,000.00 − residual 900.00); 8.33 a month, month 12: 100.00 − 91.63 = 8.37.
    rows = schedule(
        cost=D("1000.00"),
        acquired=date(2024, 1, 1),
        life_months=60,
        residual_rate=D("90"),
        method=DOUBLE_DECLINING,
    )

    assert amounts(rows) == year_months((12, "8.33", "8.37"))
    assert rows[-1].net_book_value == D("900.00")


# --- 年数总和法 (sum-of-the-years' digits) -------------------------------------------------------
#
# Cost 12,000.00, residual 600.00, 5 years: depreciable 11,400.00, digits sum 15.
#   year 1: 5/15 = 3,800.00 → 316.67 (month 12: 3,800.00 − 3,483.37 = 316.63)
#   year 2: 4/15 = 3,040.00 → 253.33 (month 12: 3,040.00 − 2,786.63 = 253.37)
#   year 3: 3/15 = 2,280.00 → 190.00
#   year 4: 2/15 = 1,520.00 → 126.67 (month 12: 1,520.00 − 1,393.37 = 126.63)
#   year 5: 1/15 =   760.00 →  63.33 (month 12:   760.00 −   696.63 =  63.37)


def test_sum_of_years_12000_residual_5_percent_5_years():
    rows = schedule(
        cost=D("12000.00"),
        acquired=date(2024, 3, 31),
        life_months=60,
        residual_rate=D("5.00"),
        method=SUM_OF_YEARS,
    )

    assert amounts(rows) == year_months(
        (12, "316.67", "316.63"),
        (12, "253.33", "253.37"),
        (12, "190.00", "190.00"),
        (12, "126.67", "126.63"),
        (12, "63.33", "63.37"),
    )
    assert [rows[i].accumulated for i in (11, 23, 35, 47, 59)] == [
        D("3800.00"),
        D("6840.00"),
        D("9120.00"),
        D("10640.00"),
        D("11400.00"),
    ]


# Laptop 8,999.00, residual 0, 3 years, digits sum 6.
#   year 1: 3/6 = 4,499.50 → 374.96 (month 12: 4,499.50 − 4,124.56 = 374.94)
#   year 2: 2/6 = 2,999.6667 → 2,999.67 → 249.97 (month 12: 2,999.67 − 2,749.67 = 250.00)
#   year 3: the rest, 8,999.00 − 7,499.17 = 1,499.83 → 124.99 (month 12: 1,499.83 − 1,374.89
#           = 124.94)


def test_sum_of_years_laptop_3_years():
    rows = schedule(
        cost=D("8999.00"),
        acquired=date(2024, 1, 1),
        life_months=36,
        residual_rate=D("0"),
        method=SUM_OF_YEARS,
    )

    assert amounts(rows) == year_months(
        (12, "374.96", "374.94"), (12, "249.97", "250.00"), (12, "124.99", "124.94")
    )
    assert rows[0].month == date(2024, 2, 1)  # acquired on the 1st: still the next month


# 42 months: the digits are the remaining lives 3.5, 2.5, 1.5 and 0.5 years (sum 8); the last,
# half year gets 0.5/8 over its 6 months. Cost 8,400.00, residual 0:
#   3,675.00 (306.25 a month), 2,625.00 (218.75), 1,575.00 (131.25), 525.00 (87.50 × 6)


def test_sum_of_years_with_a_partial_year():
    rows = schedule(
        cost=D("8400.00"),
        acquired=date(2024, 1, 1),
        life_months=42,
        residual_rate=D("0"),
        method=SUM_OF_YEARS,
    )

    assert amounts(rows) == year_months(
        (12, "306.25", "306.25"),
        (12, "218.75", "218.75"),
        (12, "131.25", "131.25"),
        (6, "87.50", "87.50"),
    )


# --- Month boundaries, disposal, the end of life ---------------------------------------------


@pytest.mark.parametrize(
    ("acquired", "first"),
    [
        (date(2024, 3, 1), date(2024, 4, 1)),
        (date(2024, 3, 31), date(2024, 4, 1)),
        (date(2024, 1, 31), date(2024, 2, 1)),
        (date(2024, 2, 29), date(2024, 3, 1)),
        (date(2024, 12, 1), date(2025, 1, 1)),
        (date(2024, 12, 31), date(2025, 1, 1)),
    ],
)
def test_depreciation_starts_the_month_after_acquisition(acquired, first):
    params = {
        "cost": D("1200.00"),
        "acquired": acquired,
        "life_months": 12,
        "residual_rate": D("0"),
        "method": STRAIGHT_LINE,
    }

    rows = schedule(**params)

    assert rows[0].month == first
    assert as_of(**params, month=acquired) == (D("0.00"), D("1200.00"), D("0.00"))
    assert as_of(**params, month=first) == (D("100.00"), D("1100.00"), D("100.00"))
    # the month is any day in it
    assert as_of(**params, month=first.replace(day=28)) == as_of(**params, month=first)


SL_12000 = {
    "cost": D("12000.00"),
    "acquired": date(2024, 3, 15),
    "life_months": 60,
    "residual_rate": D("5.00"),
    "method": STRAIGHT_LINE,
}


def test_disposal_mid_life_charges_the_disposal_month_and_nothing_after():
    # Disposed on 2025-06-10: April 2024 … June 2025 are charged = 15 months × 190.00.
    rows = schedule(**SL_12000, disposed_on=date(2025, 6, 10))

    assert len(rows) == 15
    assert rows[-1].month == date(2025, 6, 1)
    assert rows[-1].accumulated == D("2850.00")
    assert as_of(**SL_12000, disposed_on=date(2025, 6, 10), month=date(2025, 6, 1)) == (
        D("2850.00"),
        D("9150.00"),
        D("190.00"),
    )
    assert as_of(**SL_12000, disposed_on=date(2025, 6, 10), month=date(2025, 7, 1)) == (
        D("2850.00"),
        D("9150.00"),
        D("0.00"),
    )


def test_disposal_mid_year_stops_declining_methods_too():
    # DDB year 1 = 400.00 a month; disposed in the 5th month (August 2024): 5 × 400.00.
    rows = schedule(**{**SL_12000, "method": DOUBLE_DECLINING}, disposed_on=date(2024, 8, 31))

    assert amounts(rows) == [D("400.00")] * 5


def test_disposal_in_the_acquisition_month_charges_nothing():
    assert schedule(**SL_12000, disposed_on=date(2024, 3, 31)) == []
    assert as_of(**SL_12000, disposed_on=date(2024, 3, 31), month=date(2024, 6, 1)) == (
        D("0.00"),
        D("12000.00"),
        D("0.00"),
    )


@pytest.mark.parametrize("method", [STRAIGHT_LINE, DOUBLE_DECLINING, SUM_OF_YEARS])
def test_a_fully_depreciated_asset_stays_at_its_residual(method):
    params = {**SL_12000, "method": method}

    at_end = as_of(**params, month=date(2029, 3, 1))
    later = as_of(**params, month=date(2035, 1, 1))

    assert at_end.accumulated == D("11400.00")
    assert at_end.net_book_value == D("600.00")
    assert later == Position(D("11400.00"), D("600.00"), D("0.00"))


@pytest.mark.parametrize("method", [STRAIGHT_LINE, DOUBLE_DECLINING, SUM_OF_YEARS])
def test_zero_cost_has_nothing_to_depreciate(method):
    params = {**SL_12000, "cost": D("0.00"), "method": method}

    assert schedule(**params) == []
    assert as_of(**params, month=date(2025, 1, 1)) == (D("0.00"), D("0.00"), D("0.00"))


def test_a_full_residual_is_never_depreciated():
    params = {**SL_12000, "residual_rate": D("100")}

    assert schedule(**params) == []
    assert as_of(**params, month=date(2026, 1, 1)) == (D("0.00"), D("12000.00"), D("0.00"))


def test_a_month_before_acquisition_is_zero():
    assert as_of(**SL_12000, month=date(2023, 12, 1)) == (D("0.00"), D("12000.00"), D("0.00"))


# --- as_of agrees with the schedule --------------------------------------------------------------


@pytest.mark.parametrize("method", [STRAIGHT_LINE, DOUBLE_DECLINING, SUM_OF_YEARS])
@pytest.mark.parametrize(
    ("cost", "life", "rate"),
    [
        ("12000.00", 60, "5"),
        ("8999.00", 36, "0"),
        ("8400.00", 42, "3"),
        ("4999.99", 13, "5"),
        ("0.37", 25, "0"),
        ("123456.78", 121, "4.5"),
    ],
)
def test_as_of_matches_every_row_of_the_schedule(method, cost, life, rate):
    params = {
        "cost": D(cost),
        "acquired": date(2023, 11, 30),
        "life_months": life,
        "residual_rate": D(rate),
        "method": method,
    }
    rows = schedule(**params)
    residual = depreciation.money(D(cost) * D(rate) / 100)

    for row in rows:
        assert as_of(**params, month=row.month) == (
            row.accumulated,
            row.net_book_value,
            row.amount,
        )
    assert all(r.amount >= 0 for r in rows)
    assert rows[-1].accumulated == D(cost) - residual
    assert rows[-1].net_book_value == residual


# --- Invalid input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"cost": D("-1")},
        {"life_months": 0},
        {"residual_rate": D("100.01")},
        {"residual_rate": D("-1")},
        {"method": "declining"},
    ],
)
def test_invalid_input_is_refused(change):
    with pytest.raises(ValueError):
        schedule(**{**SL_12000, **change})


def test_the_method_names_are_the_models_choices():
    from assets.models import DepreciationMethod

    assert set(depreciation.METHODS) == set(DepreciationMethod.values)
