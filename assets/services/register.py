"""Writes to the register. Every function is atomic, validates, and takes keyword arguments.

Status is never written here except by ``asset_transition`` (lifecycle issue); creation sets
the initial status once.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..custom_fields import category_schema, validate_values
from ..lifecycle import INITIAL_STATES, Status
from ..models import Asset, AssetModel, Attachment, TagSequence, UserPreference

# --- Tags -------------------------------------------------------------------------------------


def tag_prefix(*, pattern: str | None = None, today: date | None = None) -> tuple[str, str]:
    """Split the tag pattern into (prefix, sequence format) for today.

    ``IT-{yyyy}-{seq:06d}`` → (``IT-2026-``, ``{seq:06d}``). The sequence restarts for each
    prefix, so a yearly pattern numbers each year from 1.
    """
    pattern = pattern or settings.ASSET_TAG_PATTERN
    today = today or timezone.localdate()
    if "{seq" not in pattern or not pattern.rstrip().endswith("}"):
        raise ValueError("ASSET_TAG_PATTERN must end with a {seq} placeholder")
    head, seq = pattern.rsplit("{seq", 1)
    prefix = head.format(yyyy=f"{today:%Y}", yy=f"{today:%y}", mm=f"{today:%m}")
    return prefix, "{seq" + seq


def sequence_names() -> tuple[str, str, str]:
    """The sequence table and its prefix and last value columns, quoted for the backend (for
    statements that advance a sequence inside a larger one, e.g. inventory's posting)."""
    qn = connection.ops.quote_name
    meta = TagSequence._meta
    return (
        qn(meta.db_table),
        qn(meta.get_field("prefix").column),
        qn(meta.get_field("last_value").column),
    )


def _sequence_advance(prefix: str, by: int) -> int:
    """Add ``by`` to the prefix's sequence, creating it if needed; return the new last value.

    One upsert statement that also answers the new value: on MariaDB/MySQL ``INSERT ... ON
    DUPLICATE KEY UPDATE`` takes an exclusive lock on an existing row straight away, and
    ``LAST_INSERT_ID(expr)`` makes the server answer the new value as the statement's insert
    id; elsewhere ``RETURNING``. The obvious ``get_or_create`` + ``UPDATE`` deadlocks when many
    callers create the first tag of a prefix at once (each waiter of the duplicate INSERT ends
    up with a shared lock and then asks for an exclusive one). The row lock is held until the
    caller's transaction ends, so concurrent callers are serialised; a rollback gives the
    numbers back.
    """
    # Identifiers come from the model (quoted); values are query parameters.
    table, col_prefix, col_last = sequence_names()
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                f"INSERT INTO {table} ({col_prefix}, {col_last}) VALUES (%s, %s) "  # noqa: S608
                f"ON DUPLICATE KEY UPDATE {col_last} = LAST_INSERT_ID({col_last} + %s)",
                [prefix, by, by],
            )
            # Affected rows (Django connects with FOUND_ROWS): 1 = inserted, 2 = advanced.
            return by if cursor.rowcount == 1 else int(cursor.lastrowid)
        # SQLite (3.35+, embedded mode) and PostgreSQL.
        cursor.execute(
            f"INSERT INTO {table} ({col_prefix}, {col_last}) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT ({col_prefix}) DO UPDATE SET {col_last} = {table}.{col_last} + %s "
            f"RETURNING {col_last}",
            [prefix, by, by],
        )
        return int(cursor.fetchone()[0])


def asset_tags_allocate(*, count: int = 1, today: date | None = None) -> list[str]:
    """Reserve ``count`` new tags. Race-safe: the sequence row is advanced by one upsert that
    holds its row lock until the caller's transaction ends, so concurrent callers get disjoint
    numbers (50 threads → 50 tags, tested on MariaDB). Gap-tolerant: the sequence only grows,
    so a deleted asset's number is never handed out again, and tags already taken (e.g.
    imported) are skipped.
    """
    prefix, seq_format = tag_prefix(today=today)
    tags: list[str] = []
    while len(tags) < count:
        need = count - len(tags)
        with transaction.atomic():
            last = _sequence_advance(prefix, need)
        candidates = [prefix + seq_format.format(seq=n) for n in range(last - need + 1, last + 1)]
        taken = set(Asset.objects.filter(tag__in=candidates).values_list("tag", flat=True))
        tags.extend(t for t in candidates if t not in taken)
    return tags


# --- Assets -----------------------------------------------------------------------------------

_EDITABLE = [
    "name",
    "serial_number",
    "department",
    "holder",
    "location",
    "supplier",
    "order_number",
    "invoice_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "useful_life_months",
    "residual_rate",
    "notes",
]


# Set at creation; afterwards written only by lifecycle transitions.
PLACEMENT_FIELDS = ("holder", "department", "location")


def _pk(value):
    return getattr(value, "pk", value) or None


def _apply_fields(asset: Asset, *, model: AssetModel, data: dict) -> None:
    asset.model = model
    asset.category_id = model.category_id
    asset.manufacturer_id = model.manufacturer_id
    for name in _EDITABLE:
        if name in data:
            setattr(asset, name, data[name])
    asset.serial_number = (asset.serial_number or "").strip() or None
    if not asset.name:
        asset.name = model.name
    if asset.warranty_end is None and asset.purchase_date and model.default_warranty_months:
        asset.warranty_end = _add_months(asset.purchase_date, model.default_warranty_months)


def _add_months(d: date, months: int) -> date:
    import calendar

    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _validate(asset: Asset, custom_values: dict) -> None:
    errors: dict[str, list[str]] = {}
    try:
        asset.custom_fields = validate_values(category_schema(asset.category), custom_values)
    except ValidationError as exc:
        errors.update({f"cf_{k}": v for k, v in exc.message_dict.items()})
    try:
        asset.full_clean(exclude=["tag"] if not asset.tag else None, validate_unique=True)
    except ValidationError as exc:
        for k, v in exc.message_dict.items():
            errors.setdefault(k, []).extend(v)
    if asset.serial_number:
        clash = Asset.objects.filter(
            manufacturer_id=asset.manufacturer_id, serial_number=asset.serial_number
        ).exclude(pk=asset.pk)
        if clash.exists():
            msg = _("Serial number %(sn)s already exists for this manufacturer.") % {
                "sn": asset.serial_number
            }
            errors["serial_number"] = [msg]
    if errors:
        # full_clean reports the serial clash as a constraint error too; keep one clear message.
        if "serial_number" in errors:
            errors.pop("__all__", None)
        raise ValidationError(errors)


@transaction.atomic
def asset_create(
    *,
    actor,
    model: AssetModel,
    data: dict,
    custom_values: dict | None = None,
    status: str = Status.IN_STOCK,
) -> Asset:
    """Create an asset with a new tag. ``data`` holds the editable fields (see _EDITABLE)."""
    if status not in INITIAL_STATES:
        raise ValidationError({"status": _("An asset cannot start in this status.")})
    asset = Asset(status=status, created_by=actor, updated_by=actor)
    _apply_fields(asset, model=model, data=data)
    _validate(asset, custom_values or {})
    asset.tag = asset_tags_allocate(count=1)[0]
    asset._change_reason = "create"
    asset.save()
    return asset


@transaction.atomic
def asset_update(
    *, actor, asset: Asset, model: AssetModel, data: dict, custom_values=None
) -> Asset:
    """Edit an asset's register fields.

    Never its status, nor who holds it and where it is: those change only through lifecycle
    transitions (assign, transfer, return...), which record the event and the handover.
    """
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    moved = {
        name: [_("Use a lifecycle action (assign, transfer or return) to change this.")]
        for name in PLACEMENT_FIELDS
        if name in data and _pk(data[name]) != getattr(locked, f"{name}_id")
    }
    if moved:
        raise ValidationError(moved)
    _apply_fields(locked, model=model, data=data)
    _validate(locked, custom_values if custom_values is not None else locked.custom_fields)
    locked.updated_by = actor
    locked._change_reason = "update"
    locked.save()
    return locked


# --- Attachments ------------------------------------------------------------------------------

# Content types accepted, decided from the bytes (filetype), not the name.
ALLOWED_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
}
THUMBNAIL_SIZE = (320, 320)


def _sniff(head: bytes) -> str | None:
    import filetype

    kind = filetype.guess(head)
    return kind.mime if kind else None


def attachment_validate(upload) -> str:
    """Return the sniffed content type or raise ValidationError (type or size)."""
    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {
                "size": round(upload.size / 1048576, 1),
                "limit": round(settings.UPLOAD_MAX_BYTES / 1048576, 1),
            },
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    mime = _sniff(head)
    if mime not in ALLOWED_TYPES:
        raise ValidationError(
            _(
                "“%(name)s” is not an accepted file type. Upload a JPEG, PNG, WebP or GIF "
                "picture or a PDF document."
            )
            % {"name": upload.name},
            code="bad_type",
        )
    return mime


def _thumbnail(data: bytes) -> bytes | None:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            img.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=82)
            return out.getvalue()
    except Exception:  # a picture Pillow cannot read keeps no thumbnail, not an error
        return None


@transaction.atomic
def attachment_add(*, actor, asset: Asset, upload, kind: str = Attachment.Kind.PHOTO) -> Attachment:
    """Store an uploaded file for an asset after checking its real type and size."""
    mime = attachment_validate(upload)
    data = upload.read()
    att = Attachment(
        asset=asset,
        kind=kind,
        original_name=upload.name[:255],
        content_type=mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=actor,
    )
    att.file.save(f"upload{ALLOWED_TYPES[mime]}", ContentFile(data), save=False)
    if mime.startswith("image/"):
        thumb = _thumbnail(data)
        if thumb:
            att.thumbnail.save("thumb.jpg", ContentFile(thumb), save=False)
    att.save()
    return att


# --- Preferences ------------------------------------------------------------------------------


@transaction.atomic
def user_preference_set(*, user, key: str, value) -> UserPreference:
    """Store one UI preference of a user (e.g. the asset list's columns), replacing the old."""
    pref, _created = UserPreference.objects.update_or_create(
        user=user, key=key, defaults={"value": value}
    )
    return pref


# --- Trees ------------------------------------------------------------------------------------


@transaction.atomic
def tree_names_refresh(*, node) -> int:
    """Recompute the denormalised ``full_name`` of a tree node and all its descendants.

    Needed after a rename or a move (treebeard rewrites paths with bulk SQL, so ``save`` of
    each descendant never runs). Returns the number of nodes whose full name changed.
    """
    from ..models import PATH_SEPARATOR

    model = type(node)
    step = model.steplen
    nodes = list(
        model.objects.select_for_update().filter(path__startswith=node.path).order_by("path")
    )
    if not nodes:
        return 0
    names: dict[str, str] = {}
    top = nodes[0]
    if top.depth > 1:
        names[top.path[:-step]] = (
            model.objects.filter(path=top.path[:-step]).values_list("full_name", flat=True).get()
        )
    changed = []
    for n in nodes:
        parent = names.get(n.path[:-step]) if n.depth > 1 else None
        full = f"{parent}{PATH_SEPARATOR}{n.name}" if parent else n.name
        names[n.path] = full
        if n.full_name != full:
            n.full_name = full
            changed.append(n)
    model.objects.bulk_update(changed, ["full_name"], batch_size=500)
    return len(changed)
