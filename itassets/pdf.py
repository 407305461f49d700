"""What every printed form (交接单, 入库单/出库单, 盘点报告) shares: an A4 document built from a
reportlab story with a footer on each page, and how a user's name is printed."""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate

EMPTY = "—"


def user_display(user) -> str:
    """A user's full name, else the username; "—" for nobody."""
    if user is None:
        return EMPTY
    return user.get_full_name() or user.get_username()


def local_time(value) -> str:
    """A moment as printed on forms, in the local time zone: ``2026-11-22 09:30``."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else EMPTY


def build_pdf(
    story: list,
    *,
    title: str,
    author: str,
    font: str,
    footer_right,
    footer_left: str = "",
    pagesize=A4,
    margin: float = 18 * mm,
    footer_y: float = 10 * mm,
) -> bytes:
    """The PDF of ``story``: ``footer_right(page_number)`` at the bottom right of every page
    (and ``footer_left`` at the bottom left), in ``font`` at 8 pt."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title,
        author=author,
        creator="itassets",
    )

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        if footer_left:
            canvas.drawString(margin, footer_y, footer_left)
        canvas.drawRightString(pagesize[0] - margin, footer_y, footer_right(document.page))
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
