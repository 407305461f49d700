"""In-memory reference maps for imports: each is loaded with one query and answers every
row's lookup without another. With ``create_missing=True`` an unknown reference is planned
for creation (a negative placeholder id) and created by ``create_pending()`` in the write step.
"""

from __future__ import annotations

import hashlib
import re

from django.utils.translation import gettext as _

from itassets.importing.values import CellError, to_halfwidth

from ..models import PATH_SEPARATOR, AssetModel, Manufacturer, Person, Supplier

_AMBIGUOUS = object()
_SEPARATORS = re.compile(r"\s*[/／\\>＞›»]\s*")
_PERSON_WITH_NUMBER = re.compile(r"^(.*?)\s*[（(]\s*([^()（）]+?)\s*[)）]$")


def norm(text: str) -> str:
    return to_halfwidth(str(text)).strip().casefold()


def norm_path(text: str) -> str:
    """``总部 / 研发中心 › 测试部`` → ``总部/研发中心/测试部`` (case-folded)."""
    return PATH_SEPARATOR.join(
        part for part in _SEPARATORS.split(to_halfwidth(str(text)).strip().casefold()) if part
    )


def split_path(text: str) -> list[str]:
    return [p for p in _SEPARATORS.split(to_halfwidth(str(text)).strip()) if p]


class _Pending:
    """Placeholders for rows to create, numbered -1, -2, …; ``real`` maps them after insert."""

    def __init__(self):
        self.items: dict[int, dict] = {}
        self.real: dict[int, int] = {}

    def add(self, **data) -> int:
        pid = -(len(self.items) + 1)
        self.items[pid] = data
        return pid

    def resolve(self, pk: int | None) -> int | None:
        if pk is not None and pk < 0:
            return self.real[pk]
        return pk

    @property
    def mark(self) -> int:
        """How many are planned now (placeholders -1 … -mark): a batch taken now needs
        no later ones."""
        return len(self.items)

    def todo(self, upto: int | None = None) -> list[tuple[int, dict]]:
        """The planned items not created yet, up to placeholder ``-upto``, in planning order.
        (Items may be planned by the validating thread while a writer thread creates
        earlier ones: the snapshot is one C-level copy and the limit ignores newer ones.)"""
        items = list(self.items.items())
        return [
            (pid, data)
            for pid, data in items
            if pid not in self.real and (upto is None or -pid <= upto)
        ]


class TreeIndex:
    """A department, location or category tree: lookups by code, full path, or unique name."""

    def __init__(self, model, *, create_missing: bool = False, code_prefix: str = "AUTO"):
        self.model = model
        self.create_missing = create_missing
        self.code_prefix = code_prefix
        self.by_code: dict[str, int] = {}
        self.by_code_ci: dict[str, int] = {}
        self.by_path: dict[str, int] = {}
        self.by_name: dict[str, object] = {}
        self.nodes: dict[int, tuple] = {}  # id → (path, depth, full_name, name, code)
        self.pending = _Pending()
        rows = model.objects.values_list("id", "code", "name", "full_name", "path", "depth")
        for pk, code, name, full_name, path, depth in rows:
            self._index(pk, code, name, full_name, path, depth)

    def _index(self, pk, code, name, full_name, path, depth) -> None:
        self.nodes[pk] = (path, depth, full_name, name, code)
        self.by_code[code] = pk
        self.by_code_ci.setdefault(code.casefold(), pk)
        path_key = norm_path(full_name)
        self.by_path[path_key] = _AMBIGUOUS if path_key in self.by_path else pk
        key = norm(name)
        self.by_name[key] = _AMBIGUOUS if key in self.by_name else pk

    def is_ambiguous_path(self, pk: int) -> bool:
        return self.by_path.get(norm_path(self.nodes[pk][2])) is _AMBIGUOUS

    def full_name(self, pk: int | None) -> str:
        if pk is None:
            return ""
        if pk < 0:
            return self.pending.items[pk]["full_name"]
        return self.nodes[pk][2]

    def find(self, text: str) -> int | None:
        """The id for a code, full path or unique name; None if unknown.

        Raises CellError when a bare name matches several nodes."""
        text = str(text).strip()
        pk = self.by_code.get(text) or self.by_code_ci.get(text.casefold())
        if pk is not None:
            return pk
        key = norm_path(text)
        pk = self.by_path.get(key)
        if pk is _AMBIGUOUS:
            raise CellError(
                _("Several %(things)s have the path “%(value)s”: give the code.")
                % {"things": self.model._meta.verbose_name_plural, "value": text}
            )
        if pk is not None:
            return pk
        if PATH_SEPARATOR not in key:
            hit = self.by_name.get(key)
            if hit is _AMBIGUOUS:
                raise CellError(
                    _("Several %(things)s are called “%(value)s”: give the code or full path.")
                    % {"things": self.model._meta.verbose_name_plural, "value": text}
                )
            return hit
        return None

    def resolve(self, text: str) -> int:
        pk = self.find(text)
        if pk is not None:
            return pk
        if self.create_missing:
            return self.plan(split_path(text))
        raise CellError(
            _("Unknown %(thing)s “%(value)s”: give its code or full path.")
            % {"thing": self.model._meta.verbose_name, "value": text}
        )

    def plan(self, parts: list[str], **fields) -> int:
        """Plan the node at ``parts`` (and its missing ancestors); return its placeholder."""
        parent = None
        for depth in range(1, len(parts) + 1):
            full = PATH_SEPARATOR.join(parts[:depth])
            key = norm_path(full)
            pk = self.by_path.get(key)
            if pk is _AMBIGUOUS:
                raise CellError(
                    _("Several %(things)s have the path “%(value)s”: give the code.")
                    % {"things": self.model._meta.verbose_name_plural, "value": full}
                )
            if pk is None:
                code = self.new_code(key)
                pk = self.pending.add(
                    parent=parent,
                    name=parts[depth - 1][:100],
                    code=code,
                    full_name=full,
                    **(fields if depth == len(parts) else {}),
                )
                self.by_path[key] = pk
                self.by_code[code] = pk
            parent = pk
        return parent

    def new_code(self, key: str) -> str:
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
        for length in (8, 12, 40):
            code = f"{self.code_prefix}-{digest[:length]}".upper()
            if code not in self.by_code and code.casefold() not in self.by_code_ci:
                return code
        raise CellError(_("Cannot make a unique code for “%(value)s”.") % {"value": key})

    def create_pending(self, upto: int | None = None) -> int:
        """Insert the planned nodes not created yet (bulk, paths computed here; parents are
        planned before their children); return how many."""
        todo = self.pending.todo(upto)
        if not todo:
            return 0
        specs = []
        for pid, data in todo:
            data = dict(data)
            specs.append((pid, data.pop("parent"), data))
        return tree_nodes_bulk_create(self.model, specs, real=self.pending.real)


def tree_nodes_bulk_create(model, specs: list[tuple], *, real: dict[int, int]) -> int:
    """Insert tree nodes in bulk: ``specs`` are (placeholder, parent id or placeholder or
    None, field values incl. name, code, full_name), parents before children. Paths follow
    treebeard's materialised-path scheme after each parent's last child; parents' ``numchild``
    is raised in one UPDATE per parent. ``real`` receives placeholder → new id."""
    from django.db.models import F

    step = model.steplen
    existing = {
        pk: (path, depth, numchild)
        for pk, path, depth, numchild in model.objects.select_for_update().values_list(
            "id", "path", "depth", "numchild"
        )
    }
    last_step: dict[str, int] = {}
    for path, _depth, _n in existing.values():
        parent_path = path[:-step]
        last_step[parent_path] = max(last_step.get(parent_path, 0), model._str2int(path[-step:]))
    new_paths: dict[int, tuple[str, int]] = {}
    children: dict[int, int] = {}
    objs = []
    for pid, parent, data in specs:
        if parent is not None and parent < 0 and parent in real:  # created by an earlier call
            parent = real[parent]
        if parent is None:
            parent_path, depth = "", 1
        elif parent < 0:
            parent_path, depth = new_paths[parent][0], new_paths[parent][1] + 1
        else:
            parent_path, depth = existing[parent][0], existing[parent][1] + 1
        n = last_step.get(parent_path, 0) + 1
        last_step[parent_path] = n
        path = model._get_path(parent_path or None, depth, n)
        new_paths[pid] = (path, depth)
        if parent is not None:
            children[parent] = children.get(parent, 0) + 1
        objs.append((pid, model(path=path, depth=depth, numchild=0, **data)))
    for pid, obj in objs:
        obj.numchild = children.get(pid, 0)
    created = model.objects.bulk_create([obj for _pid, obj in objs], batch_size=1000)
    if any(obj.pk is None for obj in created):  # databases without RETURNING
        by_path = dict(
            model.objects.filter(path__in=[o.path for o in created]).values_list("path", "id")
        )
        for obj in created:
            obj.pk = by_path[obj.path]
    for (pid, _obj), obj in zip(objs, created, strict=True):
        real[pid] = obj.pk
    for parent, count in children.items():
        if parent > 0:
            model.objects.filter(pk=parent).update(numchild=F("numchild") + count)
    return len(created)


class NameIndex:
    """Manufacturers or suppliers by name (case-insensitive)."""

    def __init__(self, model, *, create_missing: bool = False):
        self.model = model
        self.create_missing = create_missing
        rows = list(model.objects.values_list("id", "name"))
        self.by_name = {norm(name): pk for pk, name in rows}
        self.names = dict(rows)
        self.pending = _Pending()

    def find(self, text: str) -> int | None:
        return self.by_name.get(norm(text))

    def resolve(self, text: str) -> int:
        pk = self.find(text)
        if pk is not None:
            return pk
        if self.create_missing:
            name = str(text).strip()[: self.model._meta.get_field("name").max_length]
            pk = self.pending.add(name=name)
            self.by_name[norm(text)] = pk
            return pk
        raise CellError(
            _("Unknown %(thing)s “%(value)s”.")
            % {"thing": self.model._meta.verbose_name, "value": text}
        )

    def create_pending(self, upto: int | None = None) -> int:
        items = self.pending.todo(upto)
        if not items:
            return 0
        created = self.model.objects.bulk_create([self.model(**data) for _pid, data in items])
        if any(o.pk is None for o in created):
            by_name = dict(
                self.model.objects.filter(name__in=[o.name for o in created]).values_list(
                    "name", "id"
                )
            )
            for o in created:
                o.pk = by_name[o.name]
        for (pid, _data), obj in zip(items, created, strict=True):
            self.pending.real[pid] = obj.pk
        return len(created)


class PeopleIndex:
    """People by employee number, or by name when the name is unique; ``张三（E001）`` too."""

    def __init__(self):
        self.by_number: dict[str, int] = {}
        self.by_number_ci: dict[str, int] = {}
        self.by_name: dict[str, object] = {}
        self.rows: dict[int, tuple[str, str]] = {}
        for pk, number, name in Person.objects.values_list("id", "employee_no", "name"):
            self.add(pk, number, name)

    def add(self, pk, number, name) -> None:
        self.rows[pk] = (number, name)
        self.by_number[number] = pk
        self.by_number_ci.setdefault(number.casefold(), pk)
        key = norm(name)
        self.by_name[key] = _AMBIGUOUS if key in self.by_name else pk

    def resolve(self, value) -> int:
        text = str(value).strip()
        pk = self.by_number.get(text) or self.by_number_ci.get(text.casefold())
        if pk is not None:
            return pk
        hit = self.by_name.get(norm(text))
        if hit is _AMBIGUOUS:
            raise CellError(
                _("Several people are called “%(value)s”: give the employee number.")
                % {"value": text}
            )
        if hit is not None:
            return hit
        match = _PERSON_WITH_NUMBER.match(text)
        if match:
            pk = self.by_number.get(match.group(2))
            if pk is not None:
                return pk
        raise CellError(
            _("Unknown person “%(value)s”: give an employee number or a unique name.")
            % {"value": text}
        )


class ModelIndex:
    """Asset models by name, model number or "manufacturer name", within a manufacturer when
    one is given. Holds each model's category, manufacturer and default warranty."""

    def __init__(self, manufacturers: NameIndex, *, create_missing: bool = False):
        self.manufacturers = manufacturers
        self.create_missing = create_missing
        self.info: dict[int, tuple] = {}  # id → (name, category_id, manufacturer_id, warranty)
        self.keys: dict[str, list[int]] = {}
        self.pending = _Pending()
        rows = AssetModel.objects.values_list(
            "id",
            "name",
            "model_number",
            "manufacturer_id",
            "category_id",
            "default_warranty_months",
        )
        for pk, name, number, mfr, category, warranty in rows:
            self._add(pk, name, number, mfr, category, warranty)

    def _add(self, pk, name, number, mfr, category, warranty) -> None:
        self.info[pk] = (name, category, mfr, warranty)
        mfr_name = self.manufacturers.names.get(mfr, "")
        keys = {norm(name), norm(number), norm(f"{mfr_name} {name}"), norm(f"{mfr_name} {number}")}
        for key in keys:
            self.keys.setdefault(key, []).append(pk)

    def find(self, text: str, manufacturer_id: int | None = None) -> int | None:
        hits = self.keys.get(norm(text), [])
        if manufacturer_id is not None:
            hits = [pk for pk in hits if self.info[pk][2] == manufacturer_id]
        hits = list(dict.fromkeys(hits))
        if len(hits) > 1:
            raise CellError(
                _(
                    "Several models match “%(value)s”: add the manufacturer column or use the "
                    "model number."
                )
                % {"value": text}
            )
        return hits[0] if hits else None

    def resolve(self, text: str, *, manufacturer_id: int | None, category_id: int | None) -> int:
        pk = self.find(text, manufacturer_id)
        if pk is not None:
            return pk
        if self.create_missing:
            if manufacturer_id is None or category_id is None:
                raise CellError(
                    _(
                        "Unknown model “%(value)s”; to create it, give its manufacturer and "
                        "category."
                    )
                    % {"value": text}
                )
            name = str(text).strip()
            pk = self.pending.add(
                name=name[:200],
                model_number=name[:100],
                manufacturer_id=manufacturer_id,
                category_id=category_id,
            )
            self.info[pk] = (name, category_id, manufacturer_id, 36)
            for key in (norm(name),):
                self.keys.setdefault(key, []).append(pk)
            return pk
        raise CellError(_("Unknown model “%(value)s”.") % {"value": text})

    def create_pending(
        self,
        *,
        manufacturer_ids: _Pending,
        category_ids: _Pending | None,
        upto: int | None = None,
    ) -> int:
        items = self.pending.todo(upto)
        if not items:
            return 0
        objs = []
        for _pid, data in items:
            data = dict(data)
            data["manufacturer_id"] = manufacturer_ids.resolve(data["manufacturer_id"])
            if category_ids is not None:
                data["category_id"] = category_ids.resolve(data["category_id"])
            objs.append(AssetModel(**data))
        created = AssetModel.objects.bulk_create(objs)
        if any(o.pk is None for o in created):
            lookup = {
                (m, n): pk
                for pk, m, n in AssetModel.objects.filter(
                    model_number__in=[o.model_number for o in created]
                ).values_list("id", "manufacturer_id", "model_number")
            }
            for o in created:
                o.pk = lookup[(o.manufacturer_id, o.model_number)]
        for (pid, _data), obj in zip(items, created, strict=True):
            self.pending.real[pid] = obj.pk
        return len(created)


def manufacturers_index(*, create_missing: bool = False) -> NameIndex:
    return NameIndex(Manufacturer, create_missing=create_missing)


def suppliers_index(*, create_missing: bool = False) -> NameIndex:
    return NameIndex(Supplier, create_missing=create_missing)
