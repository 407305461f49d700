"""The QR code of an asset: ``SITE_URL/assets/<tag>/``, the page a scanned label lands on.

Shared by the detail page (an SVG image, ``assets:qr``) and label printing.
"""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.urls import reverse


def asset_url(tag: str) -> str:
    """The absolute URL a label's QR code encodes."""
    return settings.SITE_URL.rstrip("/") + reverse("assets:detail", args=[tag])


def qr_code(tag: str) -> segno.QRCode:
    # Level M survives a scratched or partly covered label; micro QR codes are not allowed
    # because common phone scanners do not read them.
    return segno.make(asset_url(tag), error="m", micro=False)


def qr_svg_image(tag: str, *, scale: int = 4, border: int = 2) -> bytes:
    """A standalone SVG document (with its namespace, for an ``<img>``), viewBox only."""
    out = io.BytesIO()
    qr_code(tag).save(
        out,
        kind="svg",
        scale=scale,
        border=border,
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
        title=tag,
    )
    return out.getvalue()


def qr_svg(tag: str, *, scale: int = 4, border: int = 2) -> str:
    """An inline ``<svg>`` element (no XML declaration) that scales with its container."""
    return qr_code(tag).svg_inline(
        scale=scale,
        border=border,
        omitsize=True,  # viewBox only: CSS decides the size
        svgclass="asset-qr",
        lineclass=None,
        title=tag,
    )
