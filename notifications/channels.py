"""Channels: how one delivery reaches its recipient.

Each sender takes a ``Message`` (and a ``RobotConfig`` for group robots) and either returns or
raises a ``DeliveryError`` whose text is stored on the delivery (``Delivery.last_error``):

- ``TemporaryError`` (timeouts, refused connections, HTTP 5xx/429, a robot's rate limit):
  retried with exponential backoff, given up after ``NOTIFICATIONS_MAX_ATTEMPTS``;
- ``PermanentError`` (a malformed URL, a rejected signature, a user without an email address,
  an unknown robot token): given up at once, retrying cannot help.

Robots:

- DingTalk custom robot: markdown message; with a secret the URL gets
  ``&timestamp=<ms>&sign=<urlencode(base64(hmac_sha256(key=secret, msg=f"{ts}\\n{secret}")))>``.
  ``errcode`` 130101 (more than 20 messages a minute) is a rate limit, retried later.
- WeCom (企业微信) group robot: markdown message; ``errcode`` 45009 is its rate limit.
- Feishu (飞书) custom bot: post message with ``timestamp`` (s) and
  ``sign = base64(hmac_sha256(key=f"{ts}\\n{secret}", msg=b""))`` in the body.
- Generic webhook: the JSON of the message, header
  ``X-Itassets-Signature: sha256=<hex hmac_sha256(key=secret, msg=body)>`` when a secret is set.

Every network call has a timeout of ``NOTIFICATIONS_TIMEOUT`` seconds (5 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import translation

from . import conf
from .models import Channel
from .registry import Contact

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "itassets-notifications/1"


class DeliveryError(Exception):
    """A send failed; ``str(exc)`` is the reason stored on the delivery."""

    retry = True
    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class TemporaryError(DeliveryError):
    retry = True


class RateLimited(TemporaryError):
    retry_after = 60


class PermanentError(DeliveryError):
    retry = False


@dataclass
class Message:
    delivery_id: int | None
    event_type: str
    subject: str
    body: str
    link: str
    recipient_id: int | None
    recipient_name: str
    contact: Contact
    context: dict = field(default_factory=dict)

    @property
    def absolute_link(self) -> str:
        return absolute_url(self.link)


@dataclass(frozen=True)
class RobotConfig:
    kind: str
    url: str
    secret: str = ""
    name: str = ""
    id: int | None = None


def absolute_url(link: str) -> str:
    if not link:
        return ""
    if urllib.parse.urlsplit(link).scheme:
        return link
    return settings.SITE_URL.rstrip("/") + "/" + link.lstrip("/")


def timeout() -> float:
    return float(conf.get("NOTIFICATIONS_TIMEOUT"))


# --- Signatures -------------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, URL-encoded, for ``&timestamp=..&sign=..``."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    if not secret:
        return url
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: the key is ``"{timestamp}\\n{secret}"``, the message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- HTTP -------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a webhook that redirects is misconfigured: report the 3xx


_opener = urllib.request.build_opener(_NoRedirect)


def _check_url(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url or "")
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        raise PermanentError(f"Invalid webhook URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(
            f"Invalid webhook URL {url!r}: it must start with https:// (or http://) and name a host"
        )
    return parts


def post_json(
    url: str, payload: Any, *, headers: dict | None = None, body: bytes | None = None
) -> tuple[int, Any]:
    """POST JSON; returns (status, parsed JSON or text). Raises DeliveryError on failure."""
    parts = _check_url(url)
    host = parts.hostname
    if body is None:
        body = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        },
    )
    limit = timeout()
    try:
        with _opener.open(request, timeout=limit) as response:
            status = response.status
            raw = response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode(errors="replace").strip() if exc.fp else ""
        reason = f"HTTP {exc.code} from {host}" + (f": {text}" if text else "")
        if exc.code == 429:
            raise RateLimited(reason) from exc
        if exc.code >= 500:
            raise TemporaryError(reason) from exc
        raise PermanentError(reason) from exc
    except TimeoutError as exc:
        raise TemporaryError(f"No answer from {host} within {limit:g} s (timed out)") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TemporaryError(f"No answer from {host} within {limit:g} s (timed out)") from exc
        raise TemporaryError(f"Cannot reach {host}: {exc.reason}") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise TemporaryError(f"Connection to {host} failed: {type(exc).__name__}: {exc}") from exc
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except ValueError:
        return status, text


def _robot_text(message: Message, *, mention: str = "") -> str:
    lines = [f"#### {message.subject}", ""]
    if message.body:
        lines += [message.body, ""]
    if message.link:
        with translation.override(settings.LANGUAGE_CODE):
            label = translation.gettext("Open")
        lines.append(f"[{label}]({message.absolute_link})")
    if mention:
        lines += ["", mention]
    return "\n".join(lines)


def _json_code(answer: Any, *keys: str) -> tuple[int | None, str]:
    if not isinstance(answer, dict):
        return None, str(answer)[:200]
    for key in keys:
        if key in answer:
            try:
                code = int(answer[key])
            except (TypeError, ValueError):
                code = None
            message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            return code, str(message)
    return None, json.dumps(answer, ensure_ascii=False)[:200]


# --- Senders ----------------------------------------------------------------------------------


DINGTALK_RATE_LIMIT = 130101  # "send too fast, exceed 20 times per minute"
DINGTALK_BUSY = -1
DINGTALK_SIGNATURE = 310000  # keyword, signature or IP allow-list check failed
DINGTALK_TOKEN = 300001  # the access token does not exist


def send_dingtalk(robot: RobotConfig, message: Message) -> None:
    contact = message.contact
    mentions = [f"@{contact.mobile}"] if contact.mobile else []
    if contact.dingtalk_id:
        mentions.append(f"@{contact.dingtalk_id}")
    payload = {
        "msgtype": "markdown",
        "markdown": {
            "title": message.subject[:64],
            "text": _robot_text(message, mention=" ".join(mentions)),
        },
        "at": {
            "atMobiles": [contact.mobile] if contact.mobile else [],
            "atUserIds": [contact.dingtalk_id] if contact.dingtalk_id else [],
            "isAtAll": False,
        },
    }
    _status, answer = post_json(dingtalk_signed_url(robot.url, robot.secret), payload)
    code, text = _json_code(answer, "errcode")
    if code == 0:
        return
    reason = f"DingTalk robot answered errcode {code}: {text}"
    if code == DINGTALK_RATE_LIMIT:
        raise RateLimited(reason + " (rate limited: more than 20 messages a minute)")
    if code == DINGTALK_BUSY:
        raise TemporaryError(reason + " (system busy)")
    if code == DINGTALK_SIGNATURE:
        raise PermanentError(
            reason + " (signature, keyword or IP check failed: check the robot's secret "
            "and security settings)"
        )
    if code == DINGTALK_TOKEN:
        raise PermanentError(reason + " (unknown access token: check the webhook URL)")
    raise PermanentError(reason)


WECOM_RATE_LIMIT = 45009
WECOM_BUSY = -1


def send_wecom(robot: RobotConfig, message: Message) -> None:
    mention = f"<@{message.contact.wecom_id}>" if message.contact.wecom_id else ""
    payload = {
        "msgtype": "markdown",
        "markdown": {"content": _robot_text(message, mention=mention)},
    }
    _status, answer = post_json(robot.url, payload)
    code, text = _json_code(answer, "errcode")
    if code == 0:
        return
    reason = f"WeCom robot answered errcode {code}: {text}"
    if code == WECOM_RATE_LIMIT:
        raise RateLimited(reason + " (rate limited)")
    if code == WECOM_BUSY:
        raise TemporaryError(reason + " (system busy)")
    raise PermanentError(reason)


FEISHU_RATE_LIMIT = 11232
FEISHU_SIGNATURE = 19021


def send_feishu(robot: RobotConfig, message: Message) -> None:
    paragraphs = [[{"tag": "text", "text": line}] for line in message.body.splitlines() if line]
    if message.link:
        with translation.override(settings.LANGUAGE_CODE):
            label = translation.gettext("Open")
        paragraphs.append([{"tag": "a", "text": label, "href": message.absolute_link}])
    payload: dict[str, Any] = {
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": message.subject, "content": paragraphs}}},
    }
    if robot.secret:
        timestamp = int(time.time())
        payload = {"timestamp": str(timestamp), "sign": feishu_sign(robot.secret, timestamp)} | (
            payload
        )
    _status, answer = post_json(robot.url, payload)
    code, text = _json_code(answer, "code", "StatusCode")
    if code == 0:
        return
    reason = f"Feishu bot answered code {code}: {text}"
    if code == FEISHU_RATE_LIMIT:
        raise RateLimited(reason + " (rate limited)")
    if code == FEISHU_SIGNATURE:
        raise PermanentError(reason + " (signature check failed: check the bot's secret)")
    raise PermanentError(reason)


def webhook_body(message: Message) -> dict:
    return {
        "delivery": message.delivery_id,
        "event_type": message.event_type,
        "subject": message.subject,
        "body": message.body,
        "link": message.absolute_link,
        "recipient": {
            "id": message.recipient_id,
            "name": message.recipient_name,
            "email": message.contact.email,
        },
        "context": message.context,
        "sent_at": int(time.time()),
    }


def send_webhook(robot: RobotConfig, message: Message) -> None:
    body = json.dumps(webhook_body(message), ensure_ascii=False, sort_keys=True).encode()
    headers = {"X-Itassets-Event": message.event_type}
    if message.delivery_id:
        headers["X-Itassets-Delivery"] = str(message.delivery_id)
    if robot.secret:
        headers["X-Itassets-Signature"] = webhook_signature(robot.secret, body)
    post_json(robot.url, None, headers=headers, body=body)


def send_email(message: Message) -> None:
    address = message.contact.email
    if not address:
        raise PermanentError(
            "The recipient has no email address (set one on the user or the person record)"
        )
    subject = " ".join(message.subject.split())[:250]
    context = {
        "subject": subject,
        "body": message.body,
        "link": message.absolute_link,
        "recipient_name": message.recipient_name,
        "organisation_name": settings.ORGANISATION_NAME,
        "settings_url": absolute_url("/notifications/settings/"),
        **message.context,
    }
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string("emails/notification.txt", context)
        html = render_to_string("emails/notification.html", context)
    try:
        connection = get_connection(timeout=timeout())
        email = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            connection=connection,
        )
        email.attach_alternative(html, "text/html")
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"The mail server refused the address {address}: {exc}") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise TemporaryError(f"SMTP login failed (check SMTP_USER/SMTP_PASSWORD): {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        reason = f"Mail server answered {exc.smtp_code}: {exc.smtp_error!r}"
        if 500 <= exc.smtp_code < 600:
            raise PermanentError(reason) from exc
        raise TemporaryError(reason) from exc
    except TimeoutError as exc:
        raise TemporaryError(f"The mail server did not answer within {timeout():g} s") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryError(f"Cannot send mail: {type(exc).__name__}: {exc}") from exc


ROBOT_SENDERS = {
    Channel.DINGTALK: send_dingtalk,
    Channel.WECOM: send_wecom,
    Channel.FEISHU: send_feishu,
    Channel.WEBHOOK: send_webhook,
}
