"""The client's address, as trusted reverse proxies report it.

``PROXY_COUNT`` says how many proxies (nginx, an ingress) stand in front of Django. Each
appends the address it received the request from to ``X-Forwarded-For``, so the client is
the entry ``PROXY_COUNT`` places from the right; anything further left was written by the
client and is never trusted. With ``PROXY_COUNT=0`` the header is ignored. Used by the
brute-force lockout (``AXES_CLIENT_IP_CALLABLE``) and the /metrics allow-list.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """The client's IP address ("" when there is none that parses)."""
    remote = _valid(request.META.get("REMOTE_ADDR", ""))
    count = getattr(settings, "PROXY_COUNT", 0)
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) < count:
        return remote  # the proxy chain is shorter than configured: trust only the socket
    return _valid(hops[-count]) or remote


def _valid(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
