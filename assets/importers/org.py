"""Importing the organisation: departments and locations (trees, upsert by code) and people
(upsert by employee number).

Tree rows name their parent by code or full path, existing or in the same file (in any
order). An existing node may be renamed (its subtree's full names follow); moving a node to
another parent is left to the admin, where the whole subtree moves with it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import TextChoices
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itassets.auth import bump_auth_generation
from itassets.importing.base import Column, Importer, Row, batched
from itassets.importing.values import CellError, parse_bool, parse_text

from ..models import PATH_SEPARATOR, Department, Location, Person
from ..services.register import tree_names_refresh
from .refs import PeopleIndex, TreeIndex, norm_path, tree_nodes_bulk_create


def choice_lookup(choices: type[TextChoices], synonyms: dict | None = None) -> dict[str, str]:
    """A TextChoices value by its value or its label in any language (case-insensitive)."""
    from django.conf import settings

    lookup = {c.value.casefold(): c.value for c in choices}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for c in choices:
                lookup.setdefault(str(c.label).casefold(), c.value)
    for word, value in (synonyms or {}).items():
        lookup.setdefault(word.casefold(), value)
    return lookup


def parse_choice(lookup: dict[str, str], raw) -> str:
    value = lookup.get(parse_text(raw).casefold())
    if value is None:
        options = "、".join(sorted({k for k in lookup if not k.isascii()}) or sorted(lookup))
        raise CellError(_("Not one of: %(options)s.") % {"options": options})
    return value


class TreeImporter(Importer):
    """Departments, locations, categories: code, name, parent, and the model's own fields."""

    model = Department
    # the model's own fields a row may set (beyond code, name and parent)
    stored_fields: tuple[str, ...] = ("is_active",)

    def prepare(self) -> None:
        self.tree = TreeIndex(self.model)
        self.id_by_path = {node[0]: pk for pk, node in self.tree.nodes.items()}
        self.current = {r["id"]: r for r in self.model.objects.values("id", *self.stored_fields)}
        self.planned: dict[str, dict] = {}  # code (case-folded) → row data

    def check_header(self) -> None:
        self.require_columns("code", "name")

    def parse_fields(self, row: Row) -> dict:
        values = {}
        active = self.parse(row, "is_active", parse_bool)
        if active is not None:
            values["is_active"] = active
        return values

    def validate(self, rows: list[Row]) -> None:
        for row in rows:
            errors = len(self.result.errors)
            code = self.parse(row, "code", parse_text, max_length=50)
            name = self.parse(row, "name", parse_text, max_length=100)
            parent = self.parse(row, "parent", parse_text, max_length=500)
            values = self.parse_fields(row)
            if not code:
                if row.raw("code") is None:
                    self.error(row, "code", _("Required."))
                continue
            key = code.casefold()
            if key in self.planned:
                self.error(
                    row,
                    "code",
                    _("Duplicate code: also in row %(row)s.")
                    % {"row": self.planned[key]["row"].number},
                )
                continue
            existing = self.tree.by_code.get(code) or self.tree.by_code_ci.get(key)
            if existing is None and not name:
                self.error(row, "name", _("Required for a new entry."))
            self.planned[key] = {
                "row": row,
                "code": code,
                "name": name,
                "parent": parent,
                "values": values,
                "existing": existing,
                "ok": len(self.result.errors) == errors,
            }

    def finish(self) -> None:
        """Resolve parents (existing nodes or rows of this file), then plan the writes."""
        tree = self.tree
        resolved: dict[str, object] = {}  # code → existing id, ("new", code) or None (root)
        paths: dict[str, str] = {}  # code → normalised full path of the planned node
        pending = dict(self.planned)
        for _round in range(50):
            progress = False
            for key, item in list(pending.items()):
                parent_text = item["parent"]
                if not parent_text:
                    target = None
                elif parent_text.casefold() in self.planned:
                    parent_item = self.planned[parent_text.casefold()]
                    target = parent_item["existing"] or ("new", parent_text.casefold())
                else:
                    try:
                        target = tree.find(parent_text)
                    except CellError as exc:
                        self.error(item["row"], "parent", str(exc))
                        item["ok"] = False
                        del pending[key]
                        continue
                    if target is None:
                        target = next(
                            (("new", k) for k, p in paths.items() if p == norm_path(parent_text)),
                            None,
                        )
                        if target is None:
                            continue  # maybe the path of a row not placed yet
                name = item["name"] or tree.nodes[item["existing"]][3]
                if target is None:
                    parent_path = ""
                elif isinstance(target, tuple):
                    if target[1] not in paths:
                        continue
                    parent_path = paths[target[1]]
                else:
                    parent_path = norm_path(tree.nodes[target][2])
                resolved[key] = target
                paths[key] = f"{parent_path}{PATH_SEPARATOR}{norm_path(name)}".lstrip(
                    PATH_SEPARATOR
                )
                del pending[key]
                progress = True
            if not progress:
                break
        for item in pending.values():  # unknown parents, or a cycle within the file
            self.error(
                item["row"],
                "parent",
                _("Unknown parent “%(value)s”: give its code or full path.")
                % {"value": item["parent"]},
            )
            item["ok"] = False
        self.resolved = resolved
        self._plan()

    def _plan(self) -> None:
        tree = self.tree
        self.creates: list[tuple] = []
        self.updates: list[tuple] = []
        for key, item in self.planned.items():
            if not item["ok"] or key not in self.resolved:
                continue
            target = self.resolved[key]
            if item["existing"] is None:
                if isinstance(target, tuple) and not self.planned[target[1]]["ok"]:
                    continue
                self.creates.append((key, target, item))
                self.result.created += 1
                continue
            pk = item["existing"]
            path, depth, _full, name, _code = tree.nodes[pk]
            current_parent = self.id_by_path[path[: -self.model.steplen]] if depth > 1 else None
            if target != current_parent:
                self.error(
                    item["row"],
                    "parent",
                    _("Moving an existing entry to another parent is done in the admin."),
                )
                continue
            changes = {}
            if item["name"] and item["name"] != name:
                changes["name"] = item["name"]
            current = self.current[pk]
            changes.update({k: v for k, v in item["values"].items() if current[k] != v})
            if changes:
                self.updates.append((pk, changes))
                self.result.updated += 1
            else:
                self.result.unchanged += 1
        if self.result.errors:
            self.result.created = self.result.updated = self.result.unchanged = 0

    def write(self, progress=None) -> None:
        placeholders: dict[str, int] = {}
        specs = []
        # parents before children: order the new nodes by the depth of their planned path
        order = sorted(self.creates, key=lambda c: self._depth(c[0]))
        for n, (key, _target, _item) in enumerate(order, start=1):
            placeholders[key] = -n
        for key, target, item in order:
            parent = placeholders[target[1]] if isinstance(target, tuple) else target
            full = self._full_name(key)
            specs.append(
                (
                    placeholders[key],
                    parent,
                    {
                        "code": item["code"],
                        "name": item["name"],
                        "full_name": full,
                        **item["values"],
                    },
                )
            )
        real: dict[int, int] = {}
        if specs:
            tree_nodes_bulk_create(self.model, specs, real=real)
        renamed = []
        for pk, changes in self.updates:
            if changes:
                self.model.objects.filter(pk=pk).update(**changes)
            if "name" in changes:
                renamed.append(pk)
        for pk in renamed:
            tree_names_refresh(node=self.model.objects.get(pk=pk))
        if progress:
            progress(len(specs) + len(self.updates))

    def _depth(self, key: str) -> int:
        target = self.resolved[key]
        if target is None:
            return 1
        if isinstance(target, tuple):
            return self._depth(target[1]) + 1
        return self.tree.nodes[target][1] + 1

    def _full_name(self, key: str) -> str:
        item = self.planned[key]
        target = self.resolved[key]
        if target is None:
            return item["name"]
        if isinstance(target, tuple):
            parent = self._full_name(target[1])
        else:
            parent = self.tree.nodes[target][2]
        return f"{parent}{PATH_SEPARATOR}{item['name']}"


_CODE = ("编码", "代码", "code")
_NAME = ("名称", "name")
_PARENT = ("上级", "上级编码", "parent")
_ACTIVE = ("启用", "是否启用", "有效", "active")


class DepartmentImporter(TreeImporter):
    kind = "departments"
    label = gettext_lazy("Departments")
    permission = "assets.add_department"
    model = Department
    stored_fields = ("is_active", "head_id")
    columns = (
        Column(
            "code",
            gettext_lazy("Department code"),
            ("部门编码", "部门代码", *_CODE),
            required=True,
            example="RD-QA",
        ),
        Column(
            "name",
            gettext_lazy("Department name"),
            ("部门名称", "部门", *_NAME),
            required=True,
            example="测试部",
        ),
        Column(
            "parent",
            gettext_lazy("Parent department"),
            ("上级部门", *_PARENT),
            help=gettext_lazy(
                "Code or full path of an existing department or of a row in "
                "this file; empty for a top-level department."
            ),
        ),
        Column(
            "head",
            gettext_lazy("Head"),
            ("负责人", "部门负责人", "head"),
            help=gettext_lazy("Employee number or unique name of an existing person."),
        ),
        Column("is_active", gettext_lazy("Active"), _ACTIVE, example="是"),
    )

    def prepare(self) -> None:
        super().prepare()
        self.people = PeopleIndex()

    def parse_fields(self, row: Row) -> dict:
        values = super().parse_fields(row)
        raw = row.raw("head")
        if raw is not None:
            try:
                values["head_id"] = self.people.resolve(parse_text(raw))
            except CellError as exc:
                self.error(row, "head", str(exc))
        return values


class LocationImporter(TreeImporter):
    kind = "locations"
    label = gettext_lazy("Locations")
    permission = "assets.add_location"
    model = Location
    stored_fields = ("is_active", "kind", "is_warehouse")
    columns = (
        Column(
            "code",
            gettext_lazy("Location code"),
            ("地点编码", "位置编码", *_CODE),
            required=True,
            example="HQ-A-301",
        ),
        Column(
            "name",
            gettext_lazy("Location name"),
            ("地点名称", "位置名称", "地点", *_NAME),
            required=True,
            example="301会议室",
        ),
        Column(
            "parent",
            gettext_lazy("Parent location"),
            ("上级地点", "上级位置", *_PARENT),
            help=gettext_lazy("Code or full path; empty for a top-level location."),
        ),
        Column(
            "kind",
            gettext_lazy("Kind"),
            ("类型", "地点类型", "kind"),
            help=gettext_lazy("Campus, building, floor, room or other."),
            example="房间",
        ),
        Column(
            "is_warehouse",
            gettext_lazy("Warehouse"),
            ("仓库", "是否仓库", "warehouse"),
            example="否",
        ),
        Column("is_active", gettext_lazy("Active"), _ACTIVE, example="是"),
    )

    def prepare(self) -> None:
        super().prepare()
        self.kinds = choice_lookup(
            Location.Kind,
            {
                "园区": "campus",
                "楼": "building",
                "楼栋": "building",
                "楼层": "floor",
                "房间": "room",
                "其他": "other",
            },
        )

    def parse_fields(self, row: Row) -> dict:
        values = super().parse_fields(row)
        kind = self.parse(row, "kind", lambda raw: parse_choice(self.kinds, raw))
        if kind is not None:
            values["kind"] = kind
        warehouse = self.parse(row, "is_warehouse", parse_bool)
        if warehouse is not None:
            values["is_warehouse"] = warehouse
        return values


class PersonImporter(Importer):
    kind = "people"
    label = gettext_lazy("People")
    permission = "assets.add_person"
    columns = (
        Column(
            "employee_no",
            gettext_lazy("Employee number"),
            ("工号", "员工编号", "员工号", "人员编号", "employee number", "employee no"),
            required=True,
            example="E10001",
        ),
        Column(
            "name", gettext_lazy("Name"), ("姓名", "名字", "name"), required=True, example="张三"
        ),
        Column(
            "department",
            gettext_lazy("Department"),
            ("部门", "所属部门", "department"),
            help=gettext_lazy("Code or full path."),
            example="总部/研发中心/测试部",
        ),
        Column("title", gettext_lazy("Job title"), ("职务", "岗位", "职位", "title")),
        Column("phone", gettext_lazy("Phone"), ("电话", "手机", "手机号", "联系电话", "phone")),
        Column("email", gettext_lazy("Email"), ("邮箱", "电子邮箱", "邮件", "email")),
        Column("dingtalk_id", gettext_lazy("DingTalk user ID"), ("钉钉id", "钉钉", "dingtalk")),
        Column("wecom_id", gettext_lazy("WeCom user ID"), ("企业微信id", "企业微信", "wecom")),
        Column(
            "is_active", gettext_lazy("Employed"), ("在职", "是否在职", "employed"), example="是"
        ),
    )
    _TEXT = {
        "name": 100,
        "title": 100,
        "phone": 50,
        "email": 254,
        "dingtalk_id": 100,
        "wecom_id": 100,
    }

    def prepare(self) -> None:
        self.departments = TreeIndex(Department)
        self.existing = {
            r["employee_no"].casefold(): r
            for r in Person.objects.values(
                "id", "employee_no", "department_id", "is_active", *self._TEXT
            )
        }
        self.seen: dict[str, int] = {}
        self.creates: list[Person] = []
        self.updates: list[tuple[int, dict]] = []

    def check_header(self) -> None:
        self.require_columns("employee_no")

    def validate(self, rows: list[Row]) -> None:
        for row in rows:
            errors = len(self.result.errors)
            number = self.parse(row, "employee_no", parse_text, max_length=50)
            values = {}
            for key, limit in self._TEXT.items():
                text = self.parse(row, key, parse_text, max_length=limit)
                if text:
                    values[key] = text
            if "email" in values:
                try:
                    validate_email(values["email"])
                except ValidationError:
                    self.error(row, "email", _("Not an email address."))
            raw = row.raw("department")
            if raw is not None:
                try:
                    values["department_id"] = self.departments.resolve(parse_text(raw))
                except CellError as exc:
                    self.error(row, "department", str(exc))
            active = self.parse(row, "is_active", parse_bool)
            if active is not None:
                values["is_active"] = active
            if not number:
                if row.raw("employee_no") is None:
                    self.error(row, "employee_no", _("Required."))
                continue
            key = number.casefold()
            if key in self.seen:
                self.error(
                    row,
                    "employee_no",
                    _("Duplicate employee number: also in row %(row)s.") % {"row": self.seen[key]},
                )
                continue
            self.seen[key] = row.number
            existing = self.existing.get(key)
            if existing is None and "name" not in values:
                self.error(row, "name", _("Required for a new person."))
            if len(self.result.errors) > errors:
                continue
            if existing is None:
                self.creates.append(Person(employee_no=number, **values))
                self.result.created += 1
            else:
                changes = {k: v for k, v in values.items() if existing[k] != v}
                if changes:
                    self.updates.append((existing["id"], changes))
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1

    def write(self, progress=None) -> None:
        done = 0
        now = timezone.now()
        for batch in batched(self.creates, self.batch_size):
            Person.objects.bulk_create(batch)
            done += len(batch)
        for batch in batched(self.updates, self.batch_size):
            objs = Person.objects.in_bulk([pk for pk, _c in batch])
            groups: dict[tuple, list] = {}
            for pk, changes in batch:
                obj = objs[pk]
                for field, value in changes.items():
                    setattr(obj, field, value)
                obj.updated_at = now
                groups.setdefault(tuple(sorted(changes)), []).append(obj)
            for fields, group in groups.items():
                Person.objects.bulk_update(group, [*fields, "updated_at"], batch_size=500)
            done += len(batch)
        if self.creates or self.updates:
            bump_auth_generation()  # bulk writes send no signal; a login's person may change
        if progress:
            progress(done)
