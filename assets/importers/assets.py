"""Importing the asset register: upsert by asset tag (else serial number + manufacturer).

Per chunk of rows: every cell is parsed and every reference resolved from in-memory maps;
then two queries (existing assets by the chunk's tags, by its serial numbers) decide which
rows create and which update, and find serial numbers that belong to another asset.

Rules:
- New assets need a model; the name defaults to the model's, the status to "in use" when a
  user is given and "in stock" otherwise; only the starting states of the lifecycle
  (``INITIAL_STATES``) are allowed. Tags left empty are reserved in blocks (see take_batch).
- Existing assets: only non-empty cells change a field (an empty cell keeps the value); the
  status, user, department and location of an existing asset are never changed by an import
  (lifecycle actions do that, as the edit form): a different value is reported.
- Created assets get an ``AssetEvent`` "import" (actor, time, file and row): their creation
  record. Updated assets get a simple-history row ("~", reason "import") with their new
  values. Created assets get no simple-history "+" row unless ``IMPORT_HISTORY_ON_CREATE``:
  it is a second copy of every inserted row with 14 indexes, and cost 40 % of the write time
  (docs/imports.md).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itassets.importing.base import Column, Importer, Row, batched
from itassets.importing.bulk import (
    copy_rows,
    ids_by,
    insert_columns,
    prepare_insert,
    update_rows,
)
from itassets.importing.values import (
    CellError,
    cell_text,
    format_bool,
    normalise_header,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
    parse_text,
)

from ..lifecycle import INITIAL_STATES, Status
from ..models import (
    Asset,
    AssetEvent,
    Category,
    CustomField,
    Department,
    Location,
    TagSequence,
)
from ..services.register import _add_months, _sequence_advance, tag_prefix
from .refs import ModelIndex, PeopleIndex, TreeIndex, manufacturers_index, suppliers_index

ASSET_COLUMNS = (
    Column(
        "tag",
        gettext_lazy("Asset tag"),
        ("资产编号", "资产标签", "资产编码", "资产条码", "编号", "标签", "tag", "asset tag"),
        help=gettext_lazy(
            "Leave empty for a new asset to get the next tag; an existing tag updates that asset."
        ),
        example="",
    ),
    Column(
        "name",
        gettext_lazy("Name"),
        ("资产名称", "名称", "设备名称", "name"),
        help=gettext_lazy("Defaults to the model's name."),
        example="研发笔记本",
    ),
    Column(
        "category",
        gettext_lazy("Category"),
        ("分类", "资产分类", "类别", "资产类别", "category"),
        help=gettext_lazy(
            "Code or full path; must be the model's category. Needed to create a missing model."
        ),
    ),
    Column(
        "manufacturer",
        gettext_lazy("Manufacturer"),
        ("品牌", "厂商", "制造商", "生产厂家", "厂家", "manufacturer", "brand"),
        help=gettext_lazy("Tells models of the same name apart."),
    ),
    Column(
        "model",
        gettext_lazy("Model"),
        ("型号", "规格型号", "设备型号", "model"),
        required=True,
        help=gettext_lazy("Model name or model number, as in the catalog."),
    ),
    Column(
        "serial_number",
        gettext_lazy("Serial number"),
        ("序列号", "sn", "s/n", "序列号/sn", "sn码", "serial", "serial number", "serial no"),
        help=gettext_lazy(
            "Unique per manufacturer. Without a tag, a known serial number updates that asset."
        ),
        example="PF4ABC12",
    ),
    Column(
        "status",
        gettext_lazy("Status"),
        ("状态", "资产状态", "使用状态", "status"),
        help=gettext_lazy(
            "New assets: On order, In stock / idle or In use (default: In use "
            "when a user is given, else In stock)."
        ),
    ),
    Column(
        "holder",
        gettext_lazy("User"),
        ("使用人", "领用人", "保管人", "责任人", "user", "holder"),
        help=gettext_lazy("Employee number or a unique name."),
    ),
    Column(
        "holder_no",
        gettext_lazy("User's employee number"),
        ("使用人工号", "工号", "员工编号", "employee number", "employee no"),
        help=gettext_lazy("If given, used instead of the user's name."),
    ),
    Column(
        "department",
        gettext_lazy("Using department"),
        ("使用部门", "部门", "所属部门", "department"),
        help=gettext_lazy("Code or full path, such as 总部/研发中心/测试部."),
    ),
    Column(
        "location",
        gettext_lazy("Location"),
        ("存放地点", "位置", "地点", "存放位置", "location"),
        help=gettext_lazy("Code or full path."),
    ),
    Column("supplier", gettext_lazy("Supplier"), ("供应商", "supplier", "vendor")),
    Column(
        "order_number",
        gettext_lazy("Purchase order number"),
        ("采购单号", "订单号", "采购订单号", "po", "order number"),
    ),
    Column(
        "invoice_number",
        gettext_lazy("Invoice number"),
        ("发票号", "发票号码", "invoice", "invoice number"),
    ),
    Column(
        "purchase_date",
        gettext_lazy("Purchase date"),
        ("购置日期", "购买日期", "采购日期", "购入日期", "purchase date"),
        example="2024-05-01",
    ),
    Column(
        "cost",
        gettext_lazy("Cost (CNY)"),
        ("金额", "原值", "价格", "购置金额", "采购金额", "资产原值", "单价", "cost", "price"),
        help=gettext_lazy("¥, thousands separators and 元 are fine."),
        example="¥8,999.00",
    ),
    Column(
        "warranty_end",
        gettext_lazy("Warranty end date"),
        ("保修截止", "保修截止日期", "保修到期", "保修到期日", "保修期至", "warranty end"),
        help=gettext_lazy("Defaults to the purchase date plus the model's warranty."),
    ),
    Column(
        "useful_life_months",
        gettext_lazy("Useful life (months)"),
        ("使用年限(月)", "使用寿命(月)", "折旧月数", "使用月数", "useful life"),
        help=gettext_lazy("Empty: the category's default."),
    ),
    Column(
        "residual_rate",
        gettext_lazy("Residual rate (%)"),
        ("残值率", "residual rate"),
        help=gettext_lazy("Empty: the category's default."),
    ),
    Column("notes", gettext_lazy("Notes"), ("备注", "说明", "notes", "remarks")),
)

# The stored fields, in the order of a planned insert (see _plan_create).
FIELDS = (
    "tag",
    "model_id",
    "category_id",
    "manufacturer_id",
    "name",
    "serial_number",
    "status",
    "department_id",
    "holder_id",
    "location_id",
    "supplier_id",
    "order_number",
    "invoice_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "useful_life_months",
    "residual_rate",
    "custom_fields",
    "notes",
)
# Set at creation; afterwards changed only by lifecycle transitions (as asset_update refuses).
PLACEMENT = ("holder_id", "department_id", "location_id")
# Fields an update may change (never the status or the placement; the tag is the key).
UPDATABLE = tuple(f for f in FIELDS[1:6] + FIELDS[7:] if f not in PLACEMENT)
_AUDIT = ("created_by_id", "updated_by_id", "created_at", "updated_at")
HistoricalAsset = Asset.history.model
_CUSTOM_ENCODER = Asset._meta.get_field("custom_fields").encoder
_HISTORY = (
    "history_date",
    "history_change_reason",
    "history_type",
    "history_relation_id",
    "history_user_id",
)
# The asset's columns its history rows copy (simple-history tracks all but the excluded).
_HISTORY_ASSET_FIELDS = tuple(
    f.attname
    for f in HistoricalAsset._meta.concrete_fields
    if f.attname not in ("history_id", *_HISTORY)
)
_EVENT = (
    "asset_id",
    "transition",
    "from_status",
    "to_status",
    "actor_id",
    "occurred_at",
    "note",
    "payload",
)
_TEXT_LIMITS = {"name": 200, "order_number": 100, "invoice_number": 100, "notes": 10_000}
_SYNONYMS = {
    "在用": Status.IN_USE,
    "使用中": Status.IN_USE,
    "已领用": Status.IN_USE,
    "领用": Status.IN_USE,
    "闲置": Status.IN_STOCK,
    "在库": Status.IN_STOCK,
    "库存": Status.IN_STOCK,
    "库存中": Status.IN_STOCK,
    "备用": Status.IN_STOCK,
    "已订购": Status.ORDERED,
    "采购中": Status.ORDERED,
    "订购": Status.ORDERED,
    "借出": Status.ON_LOAN,
    "借用": Status.ON_LOAN,
    "维修": Status.IN_REPAIR,
    "维修中": Status.IN_REPAIR,
    "待报废": Status.PENDING_DISPOSAL,
    "待处置": Status.PENDING_DISPOSAL,
    "已报废": Status.DISPOSED,
    "报废": Status.DISPOSED,
    "已处置": Status.DISPOSED,
    "丢失": Status.LOST,
    "遗失": Status.LOST,
}


MEMO_LIMIT = 50_000
_MISSING = object()


class _Memo(dict):
    """A column's parsed values by raw cell (``memo[cell]``): None for an empty cell, the
    CellError for a bad one. Text cells are keys as they are; other cells are remembered as
    (type, value), because 1, 1.0 and True are equal keys but different cells (a serial
    number, a date, not a date)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self[None] = None

    def __missing__(self, cell):
        if cell.__class__ is str:
            key = cell
            cell = cell.strip()
        else:
            key = (cell.__class__, cell)
            hit = self.get(key, _MISSING)
            if hit is not _MISSING:
                return hit
        value = None
        if cell != "":
            try:
                value = self.fn(cell)
            except CellError as exc:
                value = exc.with_traceback(None)  # kept: no frame (and no cycle) with it
            if value.__class__ is str and not value:
                value = None
        if len(self) < MEMO_LIMIT:
            self[key] = value
        return value


def _via(resolve):
    """A reference resolver as a cell parser (the cell as trimmed text)."""

    def parse(cell):
        return resolve(cell_text(cell))

    return parse


def status_lookup() -> dict[str, str]:
    """Status value by any label people use: values, English and Chinese labels, synonyms."""
    lookup = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for status in Status:
                lookup[str(status.label).casefold()] = status.value
                # "In stock / idle" also as "In stock" and "idle"
                for part in str(status.label).split("/"):
                    lookup.setdefault(part.strip().casefold(), status.value)
    for status in Status:
        lookup[status.value] = status.value
        lookup[status.value.replace("_", " ")] = status.value
    for word, status in _SYNONYMS.items():
        lookup.setdefault(word, status.value)
    return lookup


class CustomSchema:
    """Every category's custom fields (own and inherited), by normalised label."""

    def __init__(self, categories: TreeIndex):
        self.categories = categories
        self.own: dict[int, list[CustomField]] = {}
        self.labels: dict[str, str] = {}  # normalised label → label as defined
        for field in CustomField.objects.order_by("position", "id"):
            self.own.setdefault(field.category_id, []).append(field)
            self.labels.setdefault(normalise_header(field.label), field.label)
        self.by_path = {node[0]: pk for pk, node in categories.nodes.items()}
        self._cache: dict[int, dict[str, CustomField]] = {}

    def fields(self, category_id: int | None) -> dict[str, CustomField]:
        """normalised label → field, ancestors' fields first (a child's field of the same
        label wins)."""
        if category_id is None or category_id < 0:
            return {}
        hit = self._cache.get(category_id)
        if hit is not None:
            return hit
        path = self.categories.nodes[category_id][0]
        step = Category.steplen
        fields: dict[str, CustomField] = {}
        for end in range(step, len(path) + 1, step):
            pk = self.by_path.get(path[:end])
            for field in self.own.get(pk, ()):
                fields[normalise_header(field.label)] = field
        self._cache[category_id] = fields
        return fields


def parse_custom(field: CustomField, raw):
    """A custom field's cell as the JSON value ``assets.custom_fields`` stores."""
    match field.field_type:
        case CustomField.Type.INTEGER:
            return parse_int(raw)
        case CustomField.Type.DECIMAL:
            value = parse_decimal(raw, places=6, max_digits=20)
            return format(value.normalize(), "f")
        case CustomField.Type.DATE:
            return parse_date(raw).isoformat()
        case CustomField.Type.BOOLEAN:
            return parse_bool(raw)
        case CustomField.Type.CHOICE:
            text = parse_text(raw)
            for choice in field.choices:
                if text == choice or text.casefold() == str(choice).casefold():
                    return choice
            raise CellError(
                _("Not one of the options: %(options)s.")
                % {"options": "、".join(str(c) for c in field.choices)}
            )
        case _:
            return parse_text(raw, max_length=500)


def _custom_example(field: CustomField):
    """A value a template row can carry for a custom field (so the template imports)."""
    match field.field_type:
        case CustomField.Type.CHOICE:
            return field.choices[0] if field.choices else ""
        case CustomField.Type.INTEGER:
            return 1
        case CustomField.Type.DECIMAL:
            return "1.5"
        case CustomField.Type.DATE:
            return date(2024, 5, 1)
        case CustomField.Type.BOOLEAN:
            return format_bool(False)
        case _:
            return ""


def custom_display(field: CustomField, value):
    """A stored custom value as an export cell (the inverse of ``parse_custom``)."""
    if value is None:
        return None
    if field.field_type == CustomField.Type.BOOLEAN:
        return format_bool(bool(value))
    if field.field_type == CustomField.Type.DECIMAL:
        return Decimal(str(value))
    if field.field_type == CustomField.Type.DATE:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return str(value)
    return value


class AssetImporter(Importer):
    kind = "assets"
    label = gettext_lazy("Assets")
    permission = "assets.add_asset"
    columns = ASSET_COLUMNS

    def prepare(self) -> None:
        create = self.create_missing_refs
        self.departments = TreeIndex(Department, create_missing=create, code_prefix="D")
        self.locations = TreeIndex(Location, create_missing=create, code_prefix="L")
        self.categories = TreeIndex(Category)
        self.manufacturers = manufacturers_index(create_missing=create)
        self.suppliers = suppliers_index(create_missing=create)
        self.models = ModelIndex(self.manufacturers, create_missing=create)
        self.people = PeopleIndex()
        self.schema = CustomSchema(self.categories)
        self.statuses = status_lookup()
        self.memo: dict[tuple, object] = {}
        self.seen_tags: dict[str, int] = {}
        self.seen_serials: dict[tuple, int] = {}
        self.creates: list[tuple] = []  # FIELDS values + (row number,)
        self.updates: list[tuple] = []  # (asset id, row number, {field: new value})
        self.explicit_tags: set[str] = set()  # case-folded explicit tags of new rows
        self.reserved: dict[str, str] = {}  # case-folded → reserved tag given to a row
        self.clashes: list[str] = []  # reserved tags a later row named explicitly
        self.tag_blocks: list[tuple[str, int, int]] = []  # (prefix, first, last) reserved
        self.json_memo: dict[tuple, str] = {}
        self.now = None

    def extra_headers(self) -> dict[str, object]:
        schema = getattr(self, "schema", None)
        if schema is None:
            return {}
        return dict(schema.labels)

    def check_header(self) -> None:
        if "tag" not in self.index and "model" not in self.index:
            self.require_columns("model")

    # --- cells --------------------------------------------------------------------------

    def _compile(self) -> None:
        """The per-file parsing plan for the columns present.

        Text columns are checked inline (trimmed, length, the export's formula guard); every
        other column is memoised: each distinct raw cell is parsed or resolved once per file
        and every later occurrence costs one dict lookup (the memo also remembers empty
        cells as None and bad ones as their CellError, so the happy path raises nothing)."""
        present = self.index
        texts = [
            ("tag", 50),
            ("name", 200),
            ("serial_number", 100),
            ("order_number", 100),
            ("invoice_number", 100),
            ("notes", 10_000),
            ("model", 200),
        ]
        parsers = [
            ("purchase_date", "purchase_date", parse_date),
            ("warranty_end", "warranty_end", parse_date),
            ("cost", "cost", lambda c: parse_decimal(c, minimum=Decimal(0))),
            (
                "useful_life_months",
                "useful_life_months",
                lambda c: parse_int(c, minimum=1, maximum=1200),
            ),
            (
                "residual_rate",
                "residual_rate",
                lambda c: parse_decimal(c, minimum=Decimal(0), maximum=Decimal(100), percent=True),
            ),
            ("status", "status", self._parse_status),
            ("department", "department_id", _via(self.departments.resolve)),
            ("location", "location_id", _via(self.locations.resolve)),
            ("supplier", "supplier_id", _via(self.suppliers.resolve)),
            ("category", "category", _via(self.categories.resolve)),
            ("manufacturer", "manufacturer", _via(self.manufacturers.resolve)),
        ]
        # (cell index, value key, column key, max length) of the text columns present
        self.text_plan = [(present[key], key, key, limit) for key, limit in texts if key in present]
        # (cell index, value key, column key, memo) of the memoised columns present
        self.memo_plan = [
            (present[key], out, key, _Memo(fn)) for key, out, fn in parsers if key in present
        ]
        # the employee number wins over the name: the first non-empty of the two is used
        people = _via(self.people.resolve)
        self.holder_plan = [
            (present[key], key, _Memo(people)) for key in ("holder_no", "holder") if key in present
        ]
        self.model_memo: dict[tuple, object] = {}
        self.custom_plan = [
            (index, normalise_header(label), label) for index, label in self.extra.items()
        ]
        self.width = 1 + max(
            [i for i, *_rest in (*self.text_plan, *self.memo_plan, *self.holder_plan)], default=0
        )
        self.custom_by_category: dict[int | None, tuple] = {}
        self.custom_memos: dict[int, _Memo] = {}

    def _parse_status(self, cell) -> str:
        status = self.statuses.get(cell_text(cell).casefold())
        if status is None:
            raise CellError(
                _("Unknown status “%(value)s”; use one of: %(statuses)s.")
                % {"value": cell, "statuses": "、".join(str(s.label) for s in Status)}
            )
        return status

    def _parse(self, row: Row) -> dict:
        v = {}
        cells = row.cells
        if len(cells) < self.width:  # rows may stop at their last non-empty cell
            cells = [*cells, *([None] * (self.width - len(cells)))]
        for index, out, key, limit in self.text_plan:
            cell = cells[index]
            if cell.__class__ is str:
                cell = cell.strip()
                if not cell:
                    continue
                if cell[0] != "'" and len(cell) <= limit:  # the common case, kept cheap
                    v[out] = cell
                    continue
            elif cell is None:
                continue
            try:
                value = parse_text(cell, max_length=limit)
            except CellError as exc:
                self.error(row, key, str(exc), value=cells[index])
                continue
            if value:
                v[out] = value
        for index, out, key, memo in self.memo_plan:
            value = memo[cells[index]]
            if value is not None:
                if value.__class__ is CellError:
                    self.error(row, key, str(value), value=cells[index])
                else:
                    v[out] = value
        for index, key, memo in self.holder_plan:
            value = memo[cells[index]]
            if value is not None:
                if value.__class__ is CellError:
                    self.error(row, key, str(value), value=cells[index])
                else:
                    v["holder_id"] = value
                break
        model = v.pop("model", None)
        if model is not None and not ("manufacturer" not in v and row.raw("manufacturer")):
            key = (model, v.get("manufacturer"), v.get("category"))
            value = self.model_memo.get(key, _MISSING)
            if value is _MISSING:
                try:
                    value = self.models.resolve(model, manufacturer_id=key[1], category_id=key[2])
                except CellError as exc:
                    value = exc.with_traceback(None)
                self.model_memo[key] = value
            if value.__class__ is CellError:
                self.error(row, "model", str(value))
            else:
                v["model_id"] = value
        return v

    # --- rows ---------------------------------------------------------------------------

    def validate(self, rows: list[Row]) -> None:
        if not hasattr(self, "text_plan"):
            self._compile()
        errors = self.result.errors
        parsed = []
        for row in rows:
            before = len(errors)
            v = self._parse(row)
            parsed.append((row, v, len(errors) > before))
        tags = [v["tag"] for _row, v, _bad in parsed if "tag" in v]
        serials = [v["serial_number"] for _row, v, _bad in parsed if "serial_number" in v]
        by_tag = self._existing("tag__in", tags)
        owners = self._serial_owners(serials)
        # rows without a tag: a known serial number of the model's manufacturer updates
        matched = {}
        for _row, v, _bad in parsed:
            if "tag" not in v and "serial_number" in v and "model_id" in v:
                mfr = self.models.info[v["model_id"]][2]
                owner = owners.get((mfr, v["serial_number"].casefold()))
                if owner:
                    matched[id(v)] = owner[0]
        by_id = self._existing("id__in", list(matched.values()), key="id") if matched else {}
        for row, v, bad in parsed:
            existing = None
            if "tag" in v:
                existing = by_tag.get(v["tag"].casefold())
            elif id(v) in matched:
                existing = by_id.get(matched[id(v)])
            self._decide(row, v, existing, owners, bad)
        if self.result.dry_run:  # counted; nothing will be written, so nothing is kept
            self.creates.clear()
            self.updates.clear()

    def _existing(self, lookup: str, values: list, *, key: str = "tag") -> dict:
        if not values:
            return {}
        rows = Asset.objects.filter(**{lookup: values}).values("id", *FIELDS)
        if key == "tag":
            return {r["tag"].casefold(): r for r in rows}
        return {r["id"]: r for r in rows}

    def _serial_owners(self, serials: list[str]) -> dict[tuple, tuple]:
        """(manufacturer id, case-folded serial) → (asset id, tag) for the chunk's serials.

        Plain SQL: the ORM prepares every value of a 2,000-value ``IN`` list in Python, which
        cost more than the query."""
        if not serials:
            return {}
        qn = connection.ops.quote_name
        meta = Asset._meta
        columns = ", ".join(
            qn(meta.get_field(name).column)
            for name in ("id", "tag", "manufacturer", "serial_number")
        )
        sql = (
            f"SELECT {columns} FROM {qn(meta.db_table)} "  # noqa: S608 (identifiers from the model)
            f"WHERE {qn(meta.get_field('serial_number').column)} IN "
            f"({', '.join(['%s'] * len(serials))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, serials)
            rows = cursor.fetchall()
        return {(mfr, sn.casefold()): (pk, tag) for pk, tag, mfr, sn in rows}

    def _decide(self, row: Row, v: dict, existing: dict | None, owners: dict, bad: bool) -> None:
        errors = self.result.errors
        before = len(errors)
        tag = v.get("tag")
        if tag:
            key = tag.casefold()
            first = self.seen_tags.get(key)
            if first is not None:
                self.error(
                    row, "tag", _("Duplicate asset tag: also in row %(row)s.") % {"row": first}
                )
            else:
                self.seen_tags[key] = row.number
        model_id = v.get("model_id")
        if model_id is not None:
            _name, category_id, mfr_id, _warranty = self.models.info[model_id]
        elif existing is not None:
            category_id, mfr_id = existing["category_id"], existing["manufacturer_id"]
        else:
            category_id = mfr_id = None
            if row.raw("model") is None:
                self.error(row, "model", _("Required for a new asset."))
        if "category" in v and category_id is not None and v["category"] != category_id:
            self.error(
                row,
                "category",
                _("The model belongs to category “%(category)s”.")
                % {"category": self.categories.full_name(category_id)},
            )
        if "manufacturer" in v and mfr_id is not None and v["manufacturer"] != mfr_id:
            self.error(row, "manufacturer", _("Not the manufacturer of the asset's model."))
        serial = v.get("serial_number")
        if serial and mfr_id is not None:
            key = (mfr_id, serial.casefold())
            first = self.seen_serials.get(key)
            if first is not None:
                self.error(
                    row,
                    "serial_number",
                    _("Duplicate serial number: also in row %(row)s.") % {"row": first},
                )
            else:
                self.seen_serials[key] = row.number
                owner = owners.get(key)
                if owner is not None and (existing is None or owner[0] != existing["id"]):
                    self.error(
                        row,
                        "serial_number",
                        _("This serial number already belongs to asset %(tag)s.")
                        % {"tag": owner[1]},
                    )
        status = v.get("status")
        if existing is None:
            if status is None:
                status = Status.IN_USE if "holder_id" in v else Status.IN_STOCK
            elif status not in INITIAL_STATES:
                self.error(
                    row,
                    "status",
                    _("A new asset cannot start as “%(status)s”; use %(allowed)s.")
                    % {
                        "status": Status(status).label,
                        "allowed": "、".join(str(s.label) for s in Status if s in INITIAL_STATES),
                    },
                )
            unassigned = "holder_id" not in v and "department_id" not in v
            if (
                status == Status.IN_USE
                and unassigned
                and not bad
                and row.raw("holder") is None
                and row.raw("holder_no") is None
            ):
                self.error(row, "status", _("An asset in use needs a user or a using department."))
        else:
            self._check_placement(row, v, existing)
        if existing is not None and status is not None and status != existing["status"]:
            self.error(
                row,
                "status",
                _(
                    "The status of an existing asset changes only through lifecycle actions "
                    "(now “%(status)s”)."
                )
                % {"status": Status(existing["status"]).label},
            )
        custom = self._custom(row, category_id, existing)
        if bad or len(errors) > before:
            return
        if existing is None:
            self._plan_create(row, v, status, category_id, mfr_id, custom)
        else:
            self._plan_update(row, v, existing, category_id, mfr_id, custom)

    def _check_placement(self, row: Row, v: dict, existing: dict) -> None:
        """Who holds an existing asset, its department and location change only through
        lifecycle actions (assign, transfer, return), which record events and handovers."""
        for field, keys in (
            ("holder_id", ("holder_no", "holder")),
            ("department_id", ("department",)),
            ("location_id", ("location",)),
        ):
            if field in v and v[field] != existing[field]:
                key = next((k for k in keys if row.raw(k) is not None), keys[-1])
                self.error(
                    row,
                    key,
                    _("Use a lifecycle action (assign, transfer or return) to change this."),
                )

    def _custom_plan(self, category_id) -> tuple:
        """For a category: (per custom column: (cell index, header, field or None, memo),
        keys of its fields, fields a new row must get when their column is empty)."""
        fields = self.schema.fields(category_id)
        columns = []
        for index, norm_label, label in self.custom_plan:
            field = fields.get(norm_label)
            memo = None
            if field is not None:
                memo = self.custom_memos.get(field.pk)
                if memo is None:
                    memo = self.custom_memos[field.pk] = _Memo(partial(parse_custom, field))
            columns.append((index, label, field, memo))
        defaults = [
            (norm_label, field)
            for norm_label, field in fields.items()
            if field.field_type == CustomField.Type.BOOLEAN or field.required
        ]
        plan = (columns, {f.key for f in fields.values()} if fields else None, defaults)
        self.custom_by_category[category_id] = plan
        return plan

    def _custom(self, row: Row, category_id, existing) -> dict | None:
        """The custom-field values of the row (merged over the existing ones), or None."""
        plan = self.custom_by_category.get(category_id) or self._custom_plan(category_id)
        columns, keep, defaults = plan
        values = {}
        given = set()
        cells = row.cells
        n = len(cells)
        for index, label, field, memo in columns:
            if index >= n:
                continue
            raw = cells[index]
            if memo is None:  # not a field of the row's category
                if raw is None or (raw.__class__ is str and not raw.strip()):
                    continue
                if category_id is not None and category_id > 0:
                    self.error(
                        row,
                        label,
                        _("“%(label)s” is not a field of category “%(category)s”.")
                        % {"label": label, "category": self.categories.full_name(category_id)},
                        col_index=index,
                    )
                continue
            value = memo[raw]
            if value is None:
                continue
            given.add(field.key)
            if value.__class__ is CellError:
                self.error(row, label, str(value), col_index=index)
            else:
                values[field.key] = value
        if existing is not None:
            merged = {
                k: val
                for k, val in (existing["custom_fields"] or {}).items()
                if keep is None or k in keep
            }
            merged.update(values)
            return merged
        for norm_label, field in defaults:
            if field.key in given:
                continue
            if field.field_type == CustomField.Type.BOOLEAN:
                values[field.key] = False
            else:
                index = next((i for i, lab, _h in self.custom_plan if lab == norm_label), None)
                self.error(
                    row,
                    field.label,
                    _("Required for this category."),
                    col_index=index,
                    value="",
                )
        return values

    def _plan_create(self, row, v, status, category_id, mfr_id, custom) -> None:
        model_id = v["model_id"]
        name = v.get("name") or self.models.info[model_id][0]
        warranty = v.get("warranty_end")
        purchased = v.get("purchase_date")
        months = self.models.info[model_id][3]
        if warranty is None and purchased is not None and months:
            warranty = _add_months(purchased, months)
        tag = v.get("tag")
        if tag:
            key = tag.casefold()
            self.explicit_tags.add(key)
            if key in self.reserved:  # given to a row without tag by an earlier batch
                self.clashes.append(self.reserved.pop(key))
        self.creates.append(
            (
                tag,
                model_id,
                category_id,
                mfr_id,
                name,
                v.get("serial_number"),
                status,
                v.get("department_id"),
                v.get("holder_id"),
                v.get("location_id"),
                v.get("supplier_id"),
                v.get("order_number", ""),
                v.get("invoice_number", ""),
                purchased,
                v.get("cost"),
                warranty,
                v.get("useful_life_months"),
                v.get("residual_rate"),
                custom or {},
                v.get("notes", ""),
                row.number,
            )
        )
        self.result.created += 1

    def _plan_update(self, row, v, existing, category_id, mfr_id, custom) -> None:
        changes = {}
        if "model_id" in v:
            v = {**v, "category_id": category_id, "manufacturer_id": mfr_id}
        for field in UPDATABLE:
            if field == "custom_fields":
                if custom is not None and custom != (existing["custom_fields"] or {}):
                    changes[field] = custom
                continue
            if field in v and v[field] != existing[field]:
                changes[field] = v[field]
        if changes:
            self.updates.append((existing["id"], row.number, changes))
            self.result.updated += 1
        else:
            self.result.unchanged += 1

    # --- write --------------------------------------------------------------------------
    # Streamed (itassets.importing.writer): after every validated chunk, take_batch() (this
    # thread) reserves the tags of its new rows and hands the rows to write_batch() (the
    # writer thread, inside the import's one transaction). Otherwise before_write() takes
    # everything at the end and write() writes it in the caller's transaction.

    streams = True

    def _reserve_tags(self, count: int) -> list[str]:
        """``count`` new tags. Each block is advanced in a transaction of its own (the tag
        sequence is locked only for that moment) and remembered for :meth:`release`;
        numbers taken meanwhile and explicit tags of the file seen so far are skipped."""
        prefix, seq_format = tag_prefix()
        tags: list[str] = []
        while len(tags) < count:
            need = count - len(tags)
            with transaction.atomic():
                last = _sequence_advance(prefix, need)
            first = last - need + 1
            self.tag_blocks.append((prefix, first, last))
            candidates = [prefix + seq_format.format(seq=n) for n in range(first, last + 1)]
            skip = self.explicit_tags | self._tags_taken(candidates)
            tags += [t for t in candidates if t.casefold() not in skip]
        self.reserved.update((t.casefold(), t) for t in tags)
        return tags

    def _tags_taken(self, tags: list[str]) -> set[str]:
        """The case-folded ``tags`` (a block of one prefix) that assets have already. Tags of
        one length sort like their numbers, so the block is one index range (of which only
        the block's own tags count); otherwise they are looked up one by one."""
        qn = connection.ops.quote_name
        column = qn(Asset._meta.get_field("tag").column)
        sql = f"SELECT {column} FROM {qn(Asset._meta.db_table)} WHERE {column} "  # noqa: S608
        if len({len(t) for t in tags}) == 1:
            sql, params = sql + "BETWEEN %s AND %s", [min(tags), max(tags)]
        else:
            sql, params = sql + f"IN ({', '.join(['%s'] * len(tags))})", tags
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = {tag.casefold() for (tag,) in cursor.fetchall()}
        return found & {t.casefold() for t in tags}

    def take_batch(self, *, prepare: bool = True) -> tuple:
        """(creates with their tags, updates, retags, pending-reference marks, the creates'
        prepared INSERTs or None) planned since the last call. An explicit new tag that an
        earlier batch already gave to a row without tag (a later row of the file named it)
        is a retag: that row gets a new tag before this batch's rows are written.

        With ``prepare`` (the streamed import: this runs on the validating thread), the
        creates' statements are built here, so that the writer thread only runs them —
        unless a row names a reference this import creates (its id is known only once the
        writer has inserted it): then the writer builds them."""
        creates, updates = self.creates, self.updates
        self.creates, self.updates = [], []
        clashes, self.clashes = self.clashes, []
        need = len(clashes) + sum(1 for c in creates if c[0] is None)
        tags = iter(self._reserve_tags(need) if need else ())
        retags = [(old, next(tags)) for old in clashes]
        creates = [c if c[0] is not None else (next(tags), *c[1:]) for c in creates]
        marks = {name: index.pending.mark for name, index in self._ref_indexes()}
        if self.now is None:
            self.now = timezone.now()
        prepared = None
        if prepare and creates and not self._name_new_refs(creates):
            prepared = self._prepare_creates(creates)
        return creates, updates, retags, marks, prepared

    def _name_new_refs(self, creates: list[tuple]) -> bool:
        """Whether a row names a reference this import creates (a placeholder id < 0)."""
        for name, pending in self._fk().items():
            if pending.items:
                i = FIELDS.index(name)
                if any(c[i] is not None and c[i] < 0 for c in creates):
                    return True
        return False

    def before_write(self) -> None:
        """Reserve the new tags (see take_batch) outside the write transaction."""
        self.inline_batch = self.take_batch(prepare=False)

    def write(self, progress=None) -> None:
        creates, updates, retags, marks, _prepared = self.inline_batch
        size, done = self.batch_size, 0
        for start in range(0, len(creates), size):
            done += self.write_batch((creates[start : start + size], [], retags, marks, None))
            retags = []
            if progress:
                progress(done)
        for start in range(0, len(updates), size):
            done += self.write_batch(([], updates[start : start + size], retags, marks, None))
            if progress:
                progress(done)
        if retags or not (creates or updates):
            self.write_batch(([], [], retags, marks, None))

    def write_batch(self, batch) -> int:
        creates, updates, retags, marks, prepared = batch
        if self.now is None:
            self.now = timezone.now()
        self._create_refs(marks)
        for old, new in retags:
            self._retag(old, new)
        if creates:
            self._write_creates(prepared or self._prepare_creates(creates))
        self._write_updates(updates)
        return len(creates) + len(updates)

    def release(self) -> None:
        """After a rolled-back import: give the reserved tag blocks back to the sequence,
        last first, as long as nobody has taken numbers after them (else they stay a gap,
        which the sequence tolerates)."""
        blocks, self.tag_blocks = self.tag_blocks, []
        self.reserved.clear()
        for prefix, first, last in reversed(blocks):
            returned = TagSequence.objects.filter(prefix=prefix, last_value=last).update(
                last_value=first - 1
            )
            if not returned:
                break

    def _ref_indexes(self):
        return (
            ("manufacturers", self.manufacturers),
            ("suppliers", self.suppliers),
            ("departments", self.departments),
            ("locations", self.locations),
            ("models", self.models),
        )

    def _create_refs(self, marks: dict) -> None:
        """Create the references the batch's rows need (--create-missing-refs) that earlier
        batches have not created: placeholders up to the batch's marks."""
        refs = self.result.refs_created
        for name, index in self._ref_indexes():
            if name == "models":
                n = index.create_pending(
                    manufacturer_ids=self.manufacturers.pending,
                    category_ids=None,
                    upto=marks[name],
                )
            else:
                n = index.create_pending(upto=marks[name])
            if n:
                refs[name] = refs.get(name, 0) + n

    def _fk(self):
        return {
            "model_id": self.models.pending,
            "manufacturer_id": self.manufacturers.pending,
            "department_id": self.departments.pending,
            "location_id": self.locations.pending,
            "supplier_id": self.suppliers.pending,
        }

    def _retag(self, old: str, new: str) -> None:
        pk = Asset.objects.filter(tag=old).values_list("pk", flat=True).get()
        Asset.objects.filter(pk=pk).update(tag=new)
        HistoricalAsset.objects.filter(id=pk, history_type="+").update(tag=new)

    def _prepare_creates(self, creates: list[tuple]) -> tuple:
        """The new assets' INSERT and their "import" events' INSERT (whose asset ids are
        given when it runs), built a column at a time (see itassets.importing.bulk for why
        not bulk_create), and the columns (for history rows and the id look-up)."""
        actor_id = self.actor.pk if self.actor else None
        now = self.now
        columns = list(zip(*creates, strict=True))
        numbers = columns.pop()
        for name, pending in self._fk().items():
            if pending.items:
                i = FIELDS.index(name)
                columns[i] = [pending.resolve(v) for v in columns[i]]
        custom_at = FIELDS.index("custom_fields")
        columns[custom_at] = [self._custom_json(v) for v in columns[custom_at]]
        assets = prepare_insert(
            Asset,
            FIELDS,
            columns,
            constants={"created_by_id": actor_id, "updated_by_id": actor_id} | self._stamps(),
            encoded=("custom_fields",),
            returning=True,
        )
        head = '{"file": ' + json.dumps(self.file_name) + ', "row": '
        events = prepare_insert(
            AssetEvent,
            ["to_status", "payload"],
            [columns[FIELDS.index("status")], [f"{head}{n}}}" for n in numbers]],
            constants={
                "transition": "import",
                "from_status": "",
                "actor_id": actor_id,
                "occurred_at": now,
                "note": "",
            },
            encoded=("payload",),
            lead="asset_id",
        )
        return columns, assets, events

    def _write_creates(self, prepared: tuple) -> None:
        """INSERT the new assets and their "import" events (and history rows "+" with
        IMPORT_HISTORY_ON_CREATE)."""
        columns, assets, events = prepared
        actor_id = self.actor.pk if self.actor else None
        now = self.now
        pks = assets.run()
        if pks is None:  # the database cannot return ids from a multi-row INSERT
            ids = ids_by(Asset, "tag", columns[0])
            pks = [ids[tag] for tag in columns[0]]
        if settings.IMPORT_HISTORY_ON_CREATE:
            insert_columns(
                HistoricalAsset,
                [*FIELDS, "id", "history_relation_id"],
                [*columns, pks, pks],
                constants={
                    "created_by_id": actor_id,
                    "created_at": now,
                    "history_date": now,
                    "history_change_reason": "import",
                    "history_type": "+",
                    "history_user_id": actor_id,
                },
                encoded=("custom_fields",),
            )
        events.run(pks)

    def _stamps(self) -> dict:
        return {"created_at": self.now, "updated_at": self.now}

    def _custom_json(self, values: dict) -> str:
        """A row's custom values as stored (JSON text), memoised: rows repeat a few
        combinations."""
        key = tuple(values.items())
        try:
            text = self.json_memo.get(key)
        except TypeError:  # an unhashable value: not memoised
            return json.dumps(values, cls=_CUSTOM_ENCODER)
        if text is None:
            text = json.dumps(values, cls=_CUSTOM_ENCODER)
            if len(self.json_memo) < MEMO_LIMIT:
                self.json_memo[key] = text
        return text

    def _write_updates(self, updates: list[tuple]) -> None:
        """UPDATE the changed assets (only their changed columns: one statement per set of
        changed columns and batch) and copy each updated row into its history row ("~")
        inside the database (INSERT … SELECT: the row as updated, nothing read into Python).
        An asset deleted since validation is a concurrent change: the import is refused."""
        if not updates:
            return
        actor_id = self.actor.pk if self.actor else None
        now = self.now
        fk = {k: p for k, p in self._fk().items() if p.items}
        for batch in batched(updates, self.batch_size):
            groups: dict[tuple, list] = {}
            for pk, _number, changes in batch:
                fields = tuple(f for f in UPDATABLE if f in changes)
                values = [fk[f].resolve(changes[f]) if f in fk else changes[f] for f in fields]
                groups.setdefault(fields, []).append((pk, *values, actor_id, now))
            for fields, rows in groups.items():
                update_rows(Asset, [*fields, "updated_by_id", "updated_at"], rows)
            pks = sorted({pk for pk, _n, _c in batch})
            copied = copy_rows(
                Asset,
                HistoricalAsset,
                _HISTORY_ASSET_FIELDS,
                pks,
                constants={
                    "history_date": now,
                    "history_change_reason": "import",
                    "history_type": "~",
                    "history_user_id": actor_id,
                },
                pk_as="history_relation_id",
            )
            if copied != len(pks):
                raise IntegrityError("an asset to update was deleted during the import")

    # --- templates ----------------------------------------------------------------------

    def template_columns(self, *, category: Category | None = None, **options):
        columns = super().template_columns()
        if category is not None:
            for field in self.schema.fields(category.pk).values():
                help_text = str(field.get_field_type_display())
                if field.choices:
                    help_text += ": " + "、".join(str(c) for c in field.choices)
                if field.help_text:
                    help_text += f" ({field.help_text})"
                columns.append((field.label, help_text, field.required, ""))
        return columns

    def template_examples(self, *, category: Category | None = None, **options) -> list[list]:
        """Two example rows from the live catalog (a model of the chosen category, a real
        department and location), so the template imports as is after editing."""
        from ..models import AssetModel

        models = AssetModel.objects.select_related("manufacturer", "category")
        if category is not None:
            models = models.filter(category__path__startswith=category.path)
        model = models.order_by("id").first()
        department = Department.objects.order_by("path").last()
        location = Location.objects.filter(is_warehouse=False).order_by("path").last()
        examples = []
        for n, (status, holder) in enumerate(((Status.IN_STOCK, ""), (Status.IN_USE, ""))):
            values = {
                "name": model.name if model else "",
                "category": model.category.full_name if model else "",
                "manufacturer": model.manufacturer.name if model else "",
                "model": model.name if model else "",
                "serial_number": f"SN-EXAMPLE-{n + 1}",
                "status": str(Status(status).label),
                "holder": holder,
                "department": department.full_name if department else "",
                "location": location.full_name if location else "",
                "purchase_date": date(2024, 5, 1),
                "cost": "8999.00",
                "notes": _("Example row: replace or delete it."),
            }
            row = [values.get(c.key, "") for c in self.columns]
            if category is not None:
                row += [_custom_example(f) for f in self.schema.fields(category.pk).values()]
            examples.append(row)
        return examples
