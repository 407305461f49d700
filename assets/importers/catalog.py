"""Importing the catalog: categories (a tree, with their custom-field schemas) and models.

Categories file: one row per category. Its custom fields are groups of columns numbered
from 1, each group describing one field:

    字段1名称 | 字段1类型 | 字段1必填 | 字段1选项      | 字段1标识 | 字段1说明
    内存      | 选项      | 是        | 8GB、16GB、32GB | memory    | 出厂配置

(English: "Field 1 label", "Field 1 type", "Field 1 required", "Field 1 options",
"Field 1 key", "Field 1 help".) Types: 文本 text, 整数 integer, 小数 decimal, 日期 date,
选项 choice, 是否 yes/no. Options are separated by 、 , ; | or new lines. A field is matched
to an existing one of the category by key, else by label; fields not named in the file are
kept (an import never deletes a field).
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from django.utils.text import slugify
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from itassets.importing.base import Column, Importer, Row, batched
from itassets.importing.values import (
    CellError,
    cell_text,
    normalise_header,
    parse_bool,
    parse_decimal,
    parse_int,
    parse_text,
)

from ..models import AssetClass, AssetModel, Category, CustomField, DepreciationMethod
from .org import _ACTIVE, _CODE, _NAME, _PARENT, TreeImporter, choice_lookup, parse_choice
from .refs import NameIndex, TreeIndex, manufacturers_index

MAX_FIELD_GROUPS = 30
_FIELD_PARTS = {
    "label": ("名称", "label", "name"),
    "type": ("类型", "type"),
    "required": ("必填", "required"),
    "choices": ("选项", "options", "choices"),
    "key": ("标识", "key"),
    "help": ("说明", "help"),
}
_OPTION_SPLIT = re.compile(r"\s*[、,，;；|\n]\s*")
_TYPE_SYNONYMS = {
    "文本": "text",
    "字符": "text",
    "字符串": "text",
    "整数": "integer",
    "数字": "integer",
    "小数": "decimal",
    "数值": "decimal",
    "金额": "decimal",
    "日期": "date",
    "选项": "choice",
    "单选": "choice",
    "下拉": "choice",
    "是否": "boolean",
    "布尔": "boolean",
    "yes/no": "boolean",
    "bool": "boolean",
}


def field_group_headers() -> dict[str, tuple[int, str]]:
    """Normalised header → (group number, part) for 字段N名称 … and "Field N label" …"""
    headers = {}
    for n in range(1, MAX_FIELD_GROUPS + 1):
        for part, words in _FIELD_PARTS.items():
            for word in words:
                headers[normalise_header(f"字段{n}{word}")] = (n, part)
                headers[normalise_header(f"field {n} {word}")] = (n, part)
                headers[normalise_header(f"field{n}{word}")] = (n, part)
    return headers


def field_key(label: str, taken: set[str]) -> str:
    """A slug key for a new field: from an ASCII label, else ``f_<hash>`` of the label."""
    base = (
        slugify(label)[:40]
        or "f_" + hashlib.sha1(label.encode(), usedforsecurity=False).hexdigest()[:8]
    )
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


class CategoryImporter(TreeImporter):
    kind = "categories"
    label = gettext_lazy("Categories")
    permission = "assets.add_category"
    model = Category
    stored_fields = (
        "is_active",
        "asset_class",
        "useful_life_months",
        "residual_rate",
        "depreciation_method",
    )
    columns = (
        Column(
            "code",
            gettext_lazy("Category code"),
            ("分类编码", "分类代码", "类别编码", *_CODE),
            required=True,
            example="PC-LAPTOP",
        ),
        Column(
            "name",
            gettext_lazy("Category name"),
            ("分类名称", "类别名称", "分类", *_NAME),
            required=True,
            example="笔记本电脑",
        ),
        Column(
            "parent",
            gettext_lazy("Parent category"),
            ("上级分类", *_PARENT),
            help=gettext_lazy("Code or full path; empty for a top-level category."),
            example="PC",
        ),
        Column(
            "asset_class",
            gettext_lazy("Asset class"),
            ("资产类别", "资产类型", "asset class"),
            help=gettext_lazy("Fixed asset or low-value durable."),
            example="固定资产",
        ),
        Column(
            "useful_life_months",
            gettext_lazy("Useful life (months)"),
            ("使用年限(月)", "折旧年限(月)", "折旧月数", "使用月数", "useful life"),
            example=60,
        ),
        Column(
            "residual_rate",
            gettext_lazy("Residual rate (%)"),
            ("残值率", "residual rate"),
            example=5,
        ),
        Column(
            "depreciation_method",
            gettext_lazy("Depreciation method"),
            ("折旧方法", "depreciation method"),
            example="年限平均法",
        ),
        Column("is_active", gettext_lazy("Active"), _ACTIVE, example="是"),
    )

    def prepare(self) -> None:
        super().prepare()
        self.asset_classes = choice_lookup(AssetClass, {"固定": "fixed", "低值": "low_value"})
        self.methods = choice_lookup(
            DepreciationMethod,
            {
                "年限平均法": "straight_line",
                "直线法": "straight_line",
                "双倍余额递减法": "double_declining",
                "年数总和法": "sum_of_years",
            },
        )
        self.types = choice_lookup(CustomField.Type, _TYPE_SYNONYMS)
        self.group_headers = field_group_headers()
        self.existing_fields: dict[int, list[dict]] = {}
        for f in CustomField.objects.values():
            self.existing_fields.setdefault(f["category_id"], []).append(f)
        self.field_plans: dict[str, list[dict]] = {}  # category code → planned fields

    def extra_headers(self) -> dict[str, object]:
        return getattr(self, "group_headers", None) or field_group_headers()

    def template_columns(self, **options):
        """The category columns, then two custom-field groups (字段1名称 …)."""
        chinese = (get_language() or "").startswith("zh")
        helps = {
            "label": _("The field's label, as the asset form and the asset import show it."),
            "type": _(
                "文本 text, 整数 integer, 小数 decimal, 日期 date, 选项 choice, 是否 yes/no."
            ),
            "required": _("是 or 否."),
            "choices": _("For 选项: the options, separated by 、 or |."),
            "key": _("Optional: a stable identifier (letters, digits, - and _)."),
            "help": _("Optional: help text under the field."),
        }
        examples = {"label": "内存", "type": "选项", "required": "是", "choices": "8GB、16GB"}
        columns = super().template_columns()
        for n in (1, 2):
            for part, words in _FIELD_PARTS.items():
                header = f"字段{n}{words[0]}" if chinese else f"Field {n} {words[1]}"
                columns.append(
                    (header, str(helps[part]), False, examples.get(part, "") if n == 1 else "")
                )
        return columns

    def template_examples(self, **options) -> list[list]:
        base = [c.example for c in self.columns]
        return [base + ["内存", "选项", "是", "8GB、16GB", "memory", ""] + [""] * 6]

    def parse_fields(self, row: Row) -> dict:
        values = super().parse_fields(row)
        klass = self.parse(row, "asset_class", lambda r: parse_choice(self.asset_classes, r))
        if klass:
            values["asset_class"] = klass
        life = self.parse(row, "useful_life_months", parse_int, minimum=1, maximum=1200)
        if life is not None:
            values["useful_life_months"] = life
        rate = self.parse(
            row,
            "residual_rate",
            parse_decimal,
            minimum=Decimal(0),
            maximum=Decimal(100),
            percent=True,
        )
        if rate is not None:
            values["residual_rate"] = rate
        method = self.parse(row, "depreciation_method", lambda r: parse_choice(self.methods, r))
        if method:
            values["depreciation_method"] = method
        self._parse_field_groups(row)
        return values

    def _parse_field_groups(self, row: Row) -> None:
        groups: dict[int, dict] = {}
        for index, (n, part) in self.extra.items():
            raw = row.cells[index] if index < len(row.cells) else None
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            groups.setdefault(n, {"cols": {}})["cols"][part] = index
            group = groups[n]
            try:
                if part == "type":
                    group["field_type"] = parse_choice(self.types, raw)
                elif part == "required":
                    group["required"] = parse_bool(raw)
                elif part == "choices":
                    group["choices"] = [c for c in _OPTION_SPLIT.split(cell_text(raw)) if c]
                elif part == "label":
                    group["label"] = parse_text(raw, max_length=100)
                elif part == "key":
                    key = parse_text(raw, max_length=50)
                    if slugify(key) != key:
                        raise CellError(_("Use letters, digits, - and _ only."))
                    group["key"] = key
                else:
                    group["help_text"] = parse_text(raw, max_length=200)
            except CellError as exc:
                self.error(row, self.headers[index], str(exc), col_index=index)
        plans = []
        code = cell_text(row.raw("code") or "")
        category = self.tree.by_code.get(code) or self.tree.by_code_ci.get(code.casefold())
        existing = self.existing_fields.get(category, []) if category else []
        for n in sorted(groups):
            group = groups[n]
            cols = group.pop("cols")
            if "label" not in group:
                any_col = next(iter(cols.values()))
                self.error(
                    row,
                    self.headers[any_col],
                    _("Field %(n)s needs a label.") % {"n": n},
                    col_index=any_col,
                )
                continue
            if group.get("field_type") == CustomField.Type.CHOICE and not group.get("choices"):
                col = cols.get("choices", cols.get("type"))
                self.error(
                    row,
                    self.headers[col],
                    _("A choice field needs at least one option."),
                    col_index=col,
                )
                continue
            known = any(
                f["key"] == group["key"] if "key" in group else f["label"] == group["label"]
                for f in existing
            )
            if not known and "field_type" not in group:
                col = cols["label"]
                self.error(row, self.headers[col], _("A new field needs a type."), col_index=col)
                continue
            group["position"] = n
            group["row"] = row
            group["cols"] = cols
            plans.append(group)
        code = row.raw("code")
        if code is not None:
            self.field_plans.setdefault(cell_text(code).casefold(), []).extend(plans)

    def _plan(self) -> None:
        super()._plan()
        self.field_creates: list[tuple[str, dict]] = []  # (category code, field values)
        self.field_updates: list[tuple[int, dict]] = []
        for code, plans in self.field_plans.items():
            item = self.planned.get(code)
            if item is None or not item["ok"]:
                continue
            existing = self.existing_fields.get(item["existing"], []) if item["existing"] else []
            taken = {f["key"] for f in existing}
            labels = set()
            for plan in plans:
                row, cols = plan.pop("row"), plan.pop("cols")
                if plan["label"].casefold() in labels:
                    col = cols["label"]
                    self.error(
                        row, self.headers[col], _("Two fields have this label."), col_index=col
                    )
                    continue
                labels.add(plan["label"].casefold())
                match = next(
                    (
                        f
                        for f in existing
                        if ("key" in plan and f["key"] == plan["key"])
                        or ("key" not in plan and f["label"] == plan["label"])
                    ),
                    None,
                )
                if match is None:
                    if "field_type" not in plan:
                        col = cols["label"]
                        self.error(
                            row, self.headers[col], _("A new field needs a type."), col_index=col
                        )
                        continue
                    plan.setdefault("key", field_key(plan["label"], taken))
                    taken.add(plan["key"])
                    self.field_creates.append((code, plan))
                    if item["existing"]:
                        self._mark_changed(item)
                else:
                    changes = {k: v for k, v in plan.items() if match.get(k) != v}
                    if changes:
                        self.field_updates.append((match["id"], changes))
                        self._mark_changed(item)
        if self.result.errors:
            self.result.created = self.result.updated = self.result.unchanged = 0

    def _mark_changed(self, item) -> None:
        pk = item["existing"]
        if pk and not any(u[0] == pk for u in self.updates):
            self.updates.append((pk, {}))
            self.result.updated += 1
            self.result.unchanged -= 1

    def write(self, progress=None) -> None:
        super().write(progress)
        ids = dict(
            Category.objects.filter(
                code__in=[self.planned[c]["code"] for c, _p in self.field_creates]
            ).values_list("code", "id")
        )
        by_code_ci = {code.casefold(): pk for code, pk in ids.items()}
        CustomField.objects.bulk_create(
            CustomField(category_id=by_code_ci[code], **plan) for code, plan in self.field_creates
        )
        for pk, changes in self.field_updates:
            CustomField.objects.filter(pk=pk).update(**changes)


class ModelImporter(Importer):
    kind = "models"
    label = gettext_lazy("Asset models")
    permission = "assets.add_assetmodel"
    columns = (
        Column(
            "name",
            gettext_lazy("Model name"),
            ("型号名称", "型号", "名称", "model"),
            required=True,
            example="ThinkPad X1 Carbon Gen 12",
        ),
        Column(
            "model_number",
            gettext_lazy("Model number"),
            ("型号编号", "型号代码", "型号编码", "产品编号", "model number"),
            help=gettext_lazy("Unique per manufacturer; defaults to the model name."),
            example="21KC",
        ),
        Column(
            "manufacturer",
            gettext_lazy("Manufacturer"),
            ("品牌", "厂商", "制造商", "brand"),
            required=True,
            example="联想",
        ),
        Column(
            "category",
            gettext_lazy("Category"),
            ("分类", "资产分类", "类别", "category"),
            required=True,
            help=gettext_lazy("Code or full path."),
            example="计算机设备/笔记本电脑",
        ),
        Column(
            "default_warranty_months",
            gettext_lazy("Default warranty (months)"),
            ("保修期(月)", "默认保修(月)", "保修月数", "warranty"),
            example=36,
        ),
        Column("specs", gettext_lazy("Specifications"), ("规格", "配置", "规格参数", "specs")),
        Column("is_active", gettext_lazy("Active"), _ACTIVE, example="是"),
    )

    def prepare(self) -> None:
        self.categories = TreeIndex(Category)
        self.manufacturers: NameIndex = manufacturers_index(create_missing=self.create_missing_refs)
        self.existing = {
            (r["manufacturer_id"], r["model_number"].casefold()): r
            for r in AssetModel.objects.values(
                "id",
                "manufacturer_id",
                "model_number",
                "name",
                "category_id",
                "default_warranty_months",
                "specs",
                "is_active",
            )
        }
        self.seen: dict[tuple, int] = {}
        self.creates: list[dict] = []
        self.updates: list[tuple[int, dict]] = []

    def check_header(self) -> None:
        self.require_columns("name", "manufacturer")

    def validate(self, rows: list[Row]) -> None:
        for row in rows:
            errors = len(self.result.errors)
            name = self.parse(row, "name", parse_text, max_length=200)
            number = self.parse(row, "model_number", parse_text, max_length=100) or (
                name[:100] if name else None
            )
            values = {}
            raw = row.raw("category")
            if raw is not None:
                try:
                    values["category_id"] = self.categories.resolve(parse_text(raw))
                except CellError as exc:
                    self.error(row, "category", str(exc))
            mfr = None
            raw = row.raw("manufacturer")
            if raw is not None:
                try:
                    mfr = self.manufacturers.resolve(parse_text(raw))
                except CellError as exc:
                    self.error(row, "manufacturer", str(exc))
            elif "manufacturer" in self.index:
                self.error(row, "manufacturer", _("Required."))
            warranty = self.parse(row, "default_warranty_months", parse_int, minimum=0, maximum=600)
            if warranty is not None:
                values["default_warranty_months"] = warranty
            specs = self.parse(row, "specs", parse_text, max_length=10_000)
            if specs:
                values["specs"] = specs
            active = self.parse(row, "is_active", parse_bool)
            if active is not None:
                values["is_active"] = active
            if name:
                values["name"] = name
            elif row.raw("name") is None:
                self.error(row, "name", _("Required."))
            if len(self.result.errors) > errors or mfr is None or not number:
                continue
            key = (mfr, number.casefold())
            if key in self.seen:
                self.error(
                    row,
                    "model_number" if "model_number" in self.index else "name",
                    _("Duplicate model: also in row %(row)s.") % {"row": self.seen[key]},
                )
                continue
            self.seen[key] = row.number
            existing = self.existing.get(key)
            if existing is None:
                if "category_id" not in values:
                    self.error(row, "category", _("Required for a new model."))
                    continue
                self.creates.append({"manufacturer_id": mfr, "model_number": number, **values})
                self.result.created += 1
            else:
                changes = {k: v for k, v in values.items() if existing[k] != v}
                if changes:
                    self.updates.append((existing["id"], changes))
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1

    def write(self, progress=None) -> None:
        if n := self.manufacturers.create_pending():
            self.result.refs_created["manufacturers"] = n
        pending = self.manufacturers.pending
        for batch in batched(self.creates, self.batch_size):
            AssetModel.objects.bulk_create(
                AssetModel(**{**data, "manufacturer_id": pending.resolve(data["manufacturer_id"])})
                for data in batch
            )
        for pk, changes in self.updates:
            AssetModel.objects.filter(pk=pk).update(**changes)
        if progress:
            progress(len(self.creates) + len(self.updates))
