"""The demo catalog for ``manage.py seed_demo``: categories with accounting defaults and a
custom-field schema, manufacturers, suppliers and asset models (real products, fictional
suppliers).

:func:`seed_catalog` upserts by natural key (category ``code``, custom field
``(category, key)``, manufacturer and supplier ``name``, model ``(manufacturer,
model_number)``) and corrects changed fields, so running it again changes nothing. Rows users
added are left alone. :mod:`assets.demo_register` fills the register with assets of these
models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from .demo import Counts, _n, _upsert_tree
from .models import (
    AssetClass,
    AssetModel,
    Category,
    CustomField,
    DepreciationMethod,
    Manufacturer,
    Supplier,
)

_FIXED, _LOW = AssetClass.FIXED.value, AssetClass.LOW_VALUE.value
_SL, _DDB = DepreciationMethod.STRAIGHT_LINE.value, DepreciationMethod.DOUBLE_DECLINING.value


def _acc(asset_class: str, months: int, residual: str, method: str = _SL) -> dict:
    return {
        "asset_class": asset_class,
        "useful_life_months": months,
        "residual_rate": Decimal(residual),
        "depreciation_method": method,
    }


CATEGORIES = (
    _n(
        "PC",
        "计算机设备",
        _n("PC-LAPTOP", "笔记本电脑", **_acc(_FIXED, 36, "5")),
        _n("PC-DESKTOP", "台式机", **_acc(_FIXED, 48, "5")),
        _n("PC-SERVER", "服务器", **_acc(_FIXED, 60, "5", _DDB)),
        **_acc(_FIXED, 36, "5"),
    ),
    _n(
        "NET",
        "网络设备",
        _n("NET-SWITCH", "交换机", **_acc(_FIXED, 60, "5")),
        _n("NET-FW", "防火墙", **_acc(_FIXED, 60, "5")),
        _n("NET-AP", "无线AP", **_acc(_LOW, 36, "0")),
        **_acc(_FIXED, 60, "5"),
    ),
    _n(
        "OFFICE",
        "办公设备",
        _n("OFFICE-MONITOR", "显示器", **_acc(_LOW, 36, "0")),
        _n("OFFICE-PRINTER", "打印机", **_acc(_FIXED, 60, "5")),
        _n("OFFICE-PROJECTOR", "投影仪", **_acc(_FIXED, 60, "5")),
        **_acc(_FIXED, 60, "5"),
    ),
    _n(
        "MOBILE",
        "移动设备",
        _n("MOBILE-PHONE", "手机", **_acc(_LOW, 24, "0")),
        _n("MOBILE-TABLET", "平板电脑", **_acc(_LOW, 36, "0")),
        **_acc(_LOW, 36, "0"),
    ),
)

OS_CHOICES = [
    "Windows 11",
    "Windows 10",
    "Windows Server 2022",
    "macOS",
    "统信UOS",
    "银河麒麟",
    "Ubuntu",
    "Rocky Linux",
]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    field_type: str
    required: bool = False
    choices: tuple[str, ...] = ()
    help_text: str = ""


_T = CustomField.Type
# Custom fields by category code; children inherit their ancestors' fields.
CUSTOM_FIELDS = {
    "PC": (
        FieldSpec("os", "操作系统", _T.CHOICE, True, tuple(OS_CHOICES)),
        FieldSpec("cpu", "处理器", _T.TEXT),
        FieldSpec("memory_gb", "内存（GB）", _T.INTEGER, True),
        FieldSpec("disk_gb", "硬盘（GB）", _T.INTEGER),
    ),
    "PC-LAPTOP": (FieldSpec("screen_inch", "屏幕尺寸（英寸）", _T.DECIMAL),),
    "PC-SERVER": (
        FieldSpec("rack", "机柜位置", _T.TEXT, True, help_text="机柜编号-U位，如 A03-U12"),
        FieldSpec("ip_address", "管理IP", _T.TEXT),
        FieldSpec("maintenance_end", "维保到期日", _T.DATE),
    ),
    "NET": (
        FieldSpec("ip_address", "管理IP", _T.TEXT),
        FieldSpec("ports", "端口数", _T.INTEGER),
    ),
    "OFFICE-PRINTER": (
        FieldSpec("color", "彩色打印", _T.BOOLEAN),
        FieldSpec("duplex", "自动双面", _T.BOOLEAN),
    ),
    "MOBILE": (FieldSpec("storage_gb", "存储容量（GB）", _T.INTEGER),),
    "MOBILE-PHONE": (FieldSpec("imei", "IMEI", _T.TEXT, True),),
}

MANUFACTURERS = {
    "联想": "https://www.lenovo.com.cn",
    "戴尔": "https://www.dell.com/zh-cn",
    "华为": "https://www.huawei.com/cn",
    "苹果": "https://www.apple.com.cn",
    "惠普": "https://www.hp.com/cn-zh",
    "浪潮": "https://www.inspur.com",
    "华三": "https://www.h3c.com",
    "深信服": "https://www.sangfor.com.cn",
    "飞利浦": "https://www.philips.com.cn",
    "佳能": "https://www.canon.com.cn",
    "爱普生": "https://www.epson.com.cn",
}
# Serial number style per manufacturer: (prefix, suffix); the middle is a unique code.
SERIAL_STYLE = {
    "联想": ("PF", ""),
    "戴尔": ("", "2"),
    "华为": ("2102351", "K8"),
    "苹果": ("C02", "MD6"),
    "惠普": ("CNB", "W"),
    "浪潮": ("2Y", "218"),
    "华三": ("219801A", "3J"),
    "深信服": ("SF", "06"),
    "飞利浦": ("UK0", "A"),
    "佳能": ("XKA", ""),
    "爱普生": ("X4Y", "L"),
}


@dataclass(frozen=True)
class SupplierSpec:
    name: str
    contact: str = ""
    phone: str = ""
    email: str = ""
    credit_code: str | None = None
    address: str = ""
    repairs: bool = False  # also a repair vendor


# Fictional companies (and the consumables' supplier of inventory/demo.py); codes are made up.
SUPPLIERS = (
    SupplierSpec("京东企业购"),
    SupplierSpec(
        "北京华信恒达科技有限公司",
        "孙立",
        "010-62781234",
        "sales@hxhd.example.com",
        "91110108MA01DEMX1X",
        "北京市海淀区中关村大街18号",
    ),
    SupplierSpec(
        "上海联拓计算机系统有限公司",
        "钱芳",
        "021-50801234",
        "service@liantuo.example.com",
        "91310115MA1K3DEM2Y",
        "上海市浦东新区张江路88号",
        repairs=True,
    ),
    SupplierSpec(
        "北京京联网络技术有限公司",
        "周强",
        "010-84561234",
        "",
        None,
        "北京市朝阳区望京街9号",
    ),
    SupplierSpec(
        "北京蓝海电脑维修服务部",
        "吴师傅",
        "13811112222",
        "",
        None,
        "北京市海淀区中关村电子城",
        repairs=True,
    ),
)


@dataclass(frozen=True)
class ModelSpec:
    category: str
    manufacturer: str
    name: str
    number: str
    cost: tuple[int, int]  # CNY, low and high
    warranty_months: int
    specs: str
    custom: dict = field(default_factory=dict)


def _pc(os_name, cpu, memory, disk, **extra) -> dict:
    return {"os": os_name, "cpu": cpu, "memory_gb": memory, "disk_gb": disk, **extra}


MODELS = (
    ModelSpec(
        "PC-LAPTOP",
        "联想",
        "ThinkPad X1 Carbon Gen 12",
        "21KC",
        (9000, 16000),
        36,
        "Intel Core Ultra 7 155U / 32GB / 1TB SSD / 14英寸 2.8K OLED",
        _pc("Windows 11", "Intel Core Ultra 7 155U", 32, 1024, screen_inch="14"),
    ),
    ModelSpec(
        "PC-LAPTOP",
        "联想",
        "ThinkPad T14 Gen 5",
        "21ML",
        (6500, 9500),
        36,
        "Intel Core Ultra 5 125U / 16GB / 512GB SSD / 14英寸",
        _pc("Windows 11", "Intel Core Ultra 5 125U", 16, 512, screen_inch="14"),
    ),
    ModelSpec(
        "PC-LAPTOP",
        "戴尔",
        "Latitude 7450",
        "LAT7450",
        (8000, 12000),
        36,
        "Intel Core Ultra 7 165U / 16GB / 512GB SSD / 14英寸",
        _pc("Windows 11", "Intel Core Ultra 7 165U", 16, 512, screen_inch="14"),
    ),
    ModelSpec(
        "PC-LAPTOP",
        "华为",
        "MateBook X Pro",
        "VGHH",
        (8500, 12500),
        24,
        "Intel Core Ultra 9 185H / 32GB / 1TB SSD / 14.2英寸",
        _pc("Windows 11", "Intel Core Ultra 9 185H", 32, 1024, screen_inch="14.2"),
    ),
    ModelSpec(
        "PC-LAPTOP",
        "苹果",
        "MacBook Pro 14",
        "MX2E3CH/A",
        (12999, 19999),
        12,
        "Apple M4 Pro / 24GB / 1TB SSD / 14.2英寸",
        _pc("macOS", "Apple M4 Pro", 24, 1024, screen_inch="14.2"),
    ),
    ModelSpec(
        "PC-DESKTOP",
        "联想",
        "ThinkCentre M90q",
        "12EH",
        (4500, 7000),
        36,
        "Intel Core i7-13700T / 16GB / 512GB SSD",
        _pc("Windows 11", "Intel Core i7-13700T", 16, 512),
    ),
    ModelSpec(
        "PC-DESKTOP",
        "戴尔",
        "OptiPlex 7010",
        "OPT7010",
        (4000, 6500),
        36,
        "Intel Core i5-13500 / 16GB / 512GB SSD",
        _pc("Windows 10", "Intel Core i5-13500", 16, 512),
    ),
    ModelSpec(
        "PC-DESKTOP",
        "华为",
        "擎云 B730E",
        "B730E",
        (4200, 6000),
        36,
        "Intel Core i5-12500 / 16GB / 512GB SSD",
        _pc("统信UOS", "Intel Core i5-12500", 16, 512),
    ),
    ModelSpec(
        "PC-SERVER",
        "戴尔",
        "PowerEdge R760",
        "R760",
        (45000, 120000),
        60,
        "2× Xeon Gold 6430 / 256GB / 4× 1.92TB SSD / 2U",
        _pc("Rocky Linux", "2× Intel Xeon Gold 6430", 256, 7680),
    ),
    ModelSpec(
        "PC-SERVER",
        "华为",
        "FusionServer 2288H V7",
        "2288HV7",
        (40000, 110000),
        60,
        "2× Xeon Gold 5418Y / 256GB / 4× 960GB SSD / 2U",
        _pc("银河麒麟", "2× Intel Xeon Gold 5418Y", 256, 3840),
    ),
    ModelSpec(
        "PC-SERVER",
        "浪潮",
        "NF5280M7",
        "NF5280M7",
        (38000, 100000),
        60,
        "2× Xeon Silver 4410Y / 128GB / 2× 960GB SSD / 2U",
        _pc("Ubuntu", "2× Intel Xeon Silver 4410Y", 128, 1920),
    ),
    ModelSpec(
        "NET-SWITCH",
        "华为",
        "S5735-L48T4X",
        "S5735",
        (3500, 9000),
        36,
        "48× GE + 4× 10GE SFP+",
        {"ports": 52},
    ),
    ModelSpec(
        "NET-SWITCH",
        "华三",
        "S5130S-52S-EI",
        "S5130S",
        (2500, 6000),
        36,
        "48× GE + 4× 10GE SFP+",
        {"ports": 52},
    ),
    ModelSpec("NET-FW", "深信服", "AF-1000", "AF1000", (20000, 60000), 12, "8× GE", {"ports": 8}),
    ModelSpec(
        "NET-AP", "华为", "AirEngine 5762", "AE5762", (1200, 2500), 36, "Wi-Fi 6", {"ports": 1}
    ),
    ModelSpec("OFFICE-MONITOR", "戴尔", "U2723QE", "U2723QE", (2800, 3800), 36, "27英寸 4K IPS"),
    ModelSpec(
        "OFFICE-MONITOR", "飞利浦", "27E1N5600", "27E1N5600", (1200, 1800), 36, "27英寸 2K IPS"
    ),
    ModelSpec(
        "OFFICE-PRINTER",
        "惠普",
        "LaserJet Pro M404dn",
        "M404DN",
        (1800, 2600),
        12,
        "黑白激光 A4 38页/分",
        {"color": False, "duplex": True},
    ),
    ModelSpec(
        "OFFICE-PRINTER",
        "惠普",
        "Color LaserJet Pro M454dw",
        "M454DW",
        (3200, 4500),
        12,
        "彩色激光 A4 27页/分",
        {"color": True, "duplex": True},
    ),
    ModelSpec(
        "OFFICE-PRINTER",
        "佳能",
        "imageRUNNER 2625",
        "IR2625",
        (9000, 15000),
        12,
        "黑白数码复合机 A3",
        {"color": False, "duplex": True},
    ),
    ModelSpec(
        "OFFICE-PROJECTOR", "爱普生", "CB-FH52", "CBFH52", (4000, 6000), 24, "1080p 4000流明"
    ),
    ModelSpec(
        "MOBILE-PHONE",
        "华为",
        "Mate 60",
        "BRA-AL00",
        (5000, 7000),
        12,
        "256GB",
        {"storage_gb": 256},
    ),
    ModelSpec(
        "MOBILE-PHONE", "苹果", "iPhone 15", "A3092", (5000, 8000), 12, "128GB", {"storage_gb": 128}
    ),
    ModelSpec(
        "MOBILE-TABLET", "苹果", "iPad Air", "A2588", (4000, 6000), 12, "256GB", {"storage_gb": 256}
    ),
)


@dataclass
class CatalogResult:
    counts: dict[str, Counts]


def _upsert_rows(model, key_fields: tuple[str, ...], rows: list[dict], counts: Counts) -> dict:
    """Create the missing rows and correct the fields of existing ones (by natural key)."""
    existing = {tuple(getattr(o, k) for k in key_fields): o for o in model.objects.all()}
    out = {}
    for wanted in rows:
        key = tuple(wanted[k] for k in key_fields)
        obj = existing.get(key)
        if obj is None:
            obj = model.objects.create(**wanted)
            counts.created += 1
        else:
            changed = [k for k, v in wanted.items() if getattr(obj, k) != v]
            if changed:
                for k in changed:
                    setattr(obj, k, wanted[k])
                obj.save(update_fields=changed)
                counts.updated += 1
        out[key] = obj
    return out


CATALOG_STEPS = ("categories", "custom fields", "manufacturers", "suppliers", "asset models")


@transaction.atomic
def seed_catalog() -> CatalogResult:
    """Upsert the demo catalog (idempotent): categories, custom fields, manufacturers,
    suppliers and asset models."""
    counts = {name: Counts() for name in CATALOG_STEPS}
    categories = _upsert_tree(Category, CATEGORIES, counts["categories"])
    field_rows = [
        {
            "category_id": categories[code].pk,
            "key": spec.key,
            "label": spec.label,
            "field_type": spec.field_type,
            "required": spec.required,
            "choices": list(spec.choices),
            "help_text": spec.help_text,
            "position": position,
        }
        for code, specs in CUSTOM_FIELDS.items()
        for position, spec in enumerate(specs, start=1)
    ]
    _upsert_rows(CustomField, ("category_id", "key"), field_rows, counts["custom fields"])
    makers = _upsert_rows(
        Manufacturer,
        ("name",),
        [{"name": n, "website": w} for n, w in MANUFACTURERS.items()],
        counts["manufacturers"],
    )
    suppliers = [
        {
            "name": s.name,
            "contact": s.contact,
            "phone": s.phone,
            "email": s.email,
            "credit_code": s.credit_code,
            "address": s.address,
        }
        for s in SUPPLIERS
    ]
    _upsert_rows(Supplier, ("name",), suppliers, counts["suppliers"])
    models = [
        {
            "manufacturer_id": makers[(m.manufacturer,)].pk,
            "model_number": m.number,
            "category_id": categories[m.category].pk,
            "name": m.name,
            "specs": m.specs,
            "default_warranty_months": m.warranty_months,
            "is_active": True,
        }
        for m in MODELS
    ]
    _upsert_rows(AssetModel, ("manufacturer_id", "model_number"), models, counts["asset models"])
    return CatalogResult(counts=counts)
