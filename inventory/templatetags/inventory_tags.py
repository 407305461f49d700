"""Template filters of the inventory pages: quantities without trailing zeros, money."""

from decimal import Decimal

from django import template

from itassets.pdf import user_display

from ..models import format_quantity

register = template.Library()


@register.filter
def qty(value):
    """``Decimal("8.000")`` → ``8``; ``Decimal("-2.500")`` → ``-2.5``."""
    return format_quantity(value)


@register.filter
def signed_qty(value):
    """``+8`` / ``-2.5``: a ledger movement."""
    if value is None:
        return ""
    text = format_quantity(value)
    return f"+{text}" if value > 0 else text


@register.filter
def money(value, places=2):
    """A money or cost value with a fixed number of decimal places, thousands separated."""
    if value in (None, ""):
        return ""
    return f"{Decimal(value):,.{int(places)}f}"


@register.filter
def user_name(user):
    """A user's full name, else the username; "—" for nobody."""
    return user_display(user)
