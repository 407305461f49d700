"""Importing consumable items (物料), upsert by item code, with optional opening stock per
warehouse posted as receipt documents through ``inventory.services`` (the only code that
changes stock).

Lives here rather than in the inventory app only because that app was being written at the
same time; it depends on inventory's models and services, never the other way round.

Opening stock: the columns 仓库 / 期初数量 / 期初单价 (or 期初金额) on an item's row. More
warehouses for the same item: further rows with the same item code and only those columns
filled. One receipt per warehouse, dated today, posted by the importing user (who needs the
permission to post stock documents and, for the page, the import permission).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.importers.refs import TreeIndex, norm, suppliers_index
from inventory.models import Item, ItemCategory, Warehouse

from .base import Column, Importer, Row, batched
from .values import CellError, cell_text, parse_bool, parse_decimal, parse_int, parse_text

_ITEM_FIELDS = (
    "name",
    "spec",
    "unit",
    "quantity_decimals",
    "category_id",
    "barcode",
    "safety_stock",
    "max_stock",
    "default_supplier_id",
    "is_active",
)
_STOCK_KEYS = ("warehouse", "quantity", "unit_cost", "amount")


class ItemImporter(Importer):
    kind = "items"
    label = gettext_lazy("Consumable items")
    permission = "inventory.add_item"
    columns = (
        Column(
            "code",
            gettext_lazy("Item code"),
            ("物料编码", "物料代码", "编码", "item code"),
            required=True,
            example="TONER-HP-88A",
        ),
        Column(
            "name",
            gettext_lazy("Item name"),
            ("物料名称", "名称", "品名", "item"),
            required=True,
            example="HP 88A 硒鼓",
        ),
        Column("spec", gettext_lazy("Specification"), ("规格", "规格型号", "型号", "spec")),
        Column("unit", gettext_lazy("Unit"), ("单位", "计量单位", "unit"), example="个"),
        Column(
            "quantity_decimals",
            gettext_lazy("Decimal places of quantities"),
            ("数量小数位", "小数位数", "decimals"),
            example=0,
        ),
        Column(
            "category",
            gettext_lazy("Item category"),
            ("物料分类", "分类", "category"),
            help=gettext_lazy("Code or full path of an item category."),
        ),
        Column("barcode", gettext_lazy("Barcode"), ("条码", "条形码", "barcode")),
        Column("safety_stock", gettext_lazy("Safety stock"), ("安全库存", "safety stock")),
        Column("max_stock", gettext_lazy("Maximum stock"), ("最大库存", "最高库存", "max stock")),
        Column("supplier", gettext_lazy("Default supplier"), ("供应商", "默认供应商", "supplier")),
        Column("is_active", gettext_lazy("Active"), ("启用", "是否启用", "active")),
        Column(
            "warehouse",
            gettext_lazy("Warehouse"),
            ("仓库", "库房", "warehouse"),
            help=gettext_lazy("For opening stock: the warehouse location's code or path."),
        ),
        Column(
            "quantity",
            gettext_lazy("Opening quantity"),
            ("期初数量", "期初库存", "数量", "opening quantity"),
        ),
        Column("unit_cost", gettext_lazy("Opening unit cost"), ("期初单价", "单价", "unit cost")),
        Column("amount", gettext_lazy("Opening amount"), ("期初金额", "金额", "amount")),
    )

    def prepare(self) -> None:
        self.categories = TreeIndex(ItemCategory)
        self.suppliers = suppliers_index(create_missing=self.create_missing_refs)
        self.existing = {
            r["code"].casefold(): r for r in Item.objects.values("id", "code", *_ITEM_FIELDS)
        }
        self.barcodes = {
            r["barcode"].casefold(): r["code"] for r in self.existing.values() if r["barcode"]
        }
        self.warehouses: dict[str, int] = {}
        for wh in Warehouse.objects.filter(is_active=True):
            location = wh.location
            for key in (location.code, location.full_name, location.name):
                self.warehouses.setdefault(norm(key), wh.pk)
        self.seen: dict[str, dict] = {}  # code → {"row", "values"}
        self.seen_barcodes: dict[str, int] = {}
        self.creates: list[dict] = []
        self.updates: list[tuple[int, dict]] = []
        self.stock: dict[int, list[tuple[str, dict]]] = defaultdict(list)  # warehouse → lines

    def check_header(self) -> None:
        self.require_columns("code")

    def _values(self, row: Row) -> dict:
        v = {}
        for key, limit in (("name", 200), ("spec", 200), ("unit", 20), ("barcode", 64)):
            text = self.parse(row, key, parse_text, max_length=limit)
            if text:
                v[key] = text
        decimals = self.parse(row, "quantity_decimals", parse_int, minimum=0, maximum=3)
        if decimals is not None:
            v["quantity_decimals"] = decimals
        for key in ("safety_stock", "max_stock"):
            value = self.parse(row, key, parse_decimal, places=3, minimum=Decimal(0))
            if value is not None:
                v[key] = value
        active = self.parse(row, "is_active", parse_bool)
        if active is not None:
            v["is_active"] = active
        raw = row.raw("category")
        if raw is not None:
            try:
                v["category_id"] = self.categories.resolve(parse_text(raw))
            except CellError as exc:
                self.error(row, "category", str(exc))
        raw = row.raw("supplier")
        if raw is not None:
            try:
                v["default_supplier_id"] = self.suppliers.resolve(parse_text(raw))
            except CellError as exc:
                self.error(row, "supplier", str(exc))
        return v

    def _opening(self, row: Row, decimals: int) -> dict | None:
        if all(row.raw(k) is None for k in _STOCK_KEYS):
            return None
        line = {}
        raw = row.raw("warehouse")
        if raw is None:
            self.error(row, "warehouse", _("Opening stock needs a warehouse."))
        else:
            pk = self.warehouses.get(norm(cell_text(raw)))
            if pk is None:
                self.error(row, "warehouse", _("Unknown warehouse “%(value)s”.") % {"value": raw})
            line["warehouse"] = pk
        quantity = self.parse(
            row, "quantity", parse_decimal, places=decimals, minimum=Decimal("0.001")
        )
        if quantity is None and row.raw("quantity") is None:
            self.error(row, "quantity", _("Opening stock needs a quantity."))
        line["quantity"] = quantity
        cost = self.parse(row, "unit_cost", parse_decimal, places=4, minimum=Decimal(0))
        amount = self.parse(row, "amount", parse_decimal, places=2, minimum=Decimal(0))
        if (
            cost is None
            and amount is None
            and row.raw("unit_cost") is None
            and (row.raw("amount") is None)
        ):
            self.error(row, "unit_cost", _("Opening stock needs a unit cost or an amount."))
        if cost is not None:
            line["unit_cost"] = cost
        if amount is not None:
            line["amount"] = amount
        return line

    def validate(self, rows: list[Row]) -> None:
        for row in rows:
            errors = len(self.result.errors)
            code = self.parse(row, "code", parse_text, max_length=50)
            values = self._values(row)
            if not code:
                if row.raw("code") is None:
                    self.error(row, "code", _("Required."))
                continue
            key = code.casefold()
            existing = self.existing.get(key)
            decimals = values.get(
                "quantity_decimals", existing["quantity_decimals"] if existing else 0
            )
            first = self.seen.get(key)
            if first is not None:
                decimals = first["decimals"]
            opening = self._opening(row, decimals)
            if first is not None:
                # a further row of the same item may only add opening stock
                if values and values != first["values"]:
                    self.error(
                        row,
                        "code",
                        _("Duplicate item code: also in row %(row)s.") % {"row": first["row"]},
                    )
                    continue
                wh = opening.get("warehouse") if opening else None
                if wh is not None and wh in first["warehouses"]:
                    self.error(
                        row,
                        "warehouse",
                        _("Opening stock for this warehouse is already in row %(row)s.")
                        % {"row": first["warehouses"][wh]},
                    )
                    continue
            barcode = values.get("barcode")
            if barcode:
                owner = self.barcodes.get(barcode.casefold())
                seen_at = self.seen_barcodes.get(barcode.casefold())
                if (owner and owner.casefold() != key) or (seen_at is not None and first is None):
                    self.error(row, "barcode", _("This barcode is already used."))
                self.seen_barcodes.setdefault(barcode.casefold(), row.number)
            if existing is None and first is None and "name" not in values:
                self.error(row, "name", _("Required for a new item."))
            if len(self.result.errors) > errors:
                continue
            if first is None:
                self.seen[key] = {
                    "row": row.number,
                    "values": values,
                    "decimals": decimals,
                    "warehouses": {},
                }
                if existing is None:
                    self.creates.append({"code": code, **values})
                    self.result.created += 1
                else:
                    changes = {k: v for k, v in values.items() if existing[k] != v}
                    if changes:
                        self.updates.append((existing["id"], changes))
                        self.result.updated += 1
                    else:
                        self.result.unchanged += 1
            if opening:
                self.seen[key]["warehouses"][opening["warehouse"]] = row.number
                self.stock[opening["warehouse"]].append((key, opening))

    def finish(self) -> None:
        from inventory.services import PERM_POST

        if self.stock and (self.actor is None or not self.actor.has_perm(PERM_POST)):
            self.file_error(
                _(
                    "Opening stock is posted as receipts: the importing user needs the permission "
                    "to post stock documents (command: --user)."
                )
            )

    def write(self, progress=None) -> None:
        from inventory.services import document_create_and_post

        if n := self.suppliers.create_pending():
            self.result.refs_created["suppliers"] = n
        pending = self.suppliers.pending
        now = timezone.now()
        for batch in batched(self.creates, self.batch_size):
            Item.objects.bulk_create(
                Item(
                    **{
                        **data,
                        "default_supplier_id": pending.resolve(data.get("default_supplier_id")),
                    }
                )
                for data in batch
            )
        for pk, changes in self.updates:
            if "default_supplier_id" in changes:
                changes["default_supplier_id"] = pending.resolve(changes["default_supplier_id"])
            Item.objects.filter(pk=pk).update(**changes, updated_at=now)
        if self.stock:
            ids = {
                code.casefold(): pk
                for code, pk in Item.objects.filter(
                    code__in=[c for lines in self.stock.values() for c, _l in lines]
                ).values_list("code", "id")
            }
            for warehouse_id, lines in self.stock.items():
                document_create_and_post(
                    actor=self.actor,
                    type="receipt",
                    warehouse=warehouse_id,
                    date=timezone.localdate(),
                    lines=[
                        {"item": ids[code], **{k: v for k, v in line.items() if k != "warehouse"}}
                        for code, line in lines
                    ],
                )
                self.result.refs_created["receipts"] = (
                    self.result.refs_created.get("receipts", 0) + 1
                )
        if progress:
            progress(len(self.creates) + len(self.updates))
