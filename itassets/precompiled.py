"""``queryset.get(pk=…)`` on hot paths without compiling the same SQL on every request.

Building a query's SQL (``SQLCompiler.as_sql``: the select list, joins, annotations) costs
several times the CPU of running it on the database for a single-row lookup. The session
user (``itassets.auth``) and the scan and issue endpoints' lookups run one on every request,
so :class:`GetByPk` compiles its queryset once, with a sentinel primary key, and afterwards
only substitutes the key: the rows become model instances exactly as ``QuerySet.get`` makes
them (``from_db``, ``select_related`` objects, annotations, the backend's converters).
"""

from __future__ import annotations

import threading

from django.db.models.query import get_related_populators

SENTINEL = -918_273_645  # a primary key no row has; located in the compiled parameters


class GetByPk:
    """``GetByPk(queryset).get(pk)``: ``queryset.get(pk=pk)``, or None when no row matches.

    The queryset must select model instances (no ``values()``, ``defer()`` is fine) and must
    not be sliced; it is compiled on the first call. If its parameters do not show the key
    in exactly one place the lookup is left to the ORM (same results, no saving)."""

    def __init__(self, queryset):
        self._queryset = queryset
        self._compiled = None
        self._lock = threading.Lock()

    def _compile(self):
        queryset = self._queryset.filter(pk=SENTINEL).order_by()
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        params = list(params)
        where = [i for i, value in enumerate(params) if value == SENTINEL]
        if len(where) != 1:
            return False
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return {
            "queryset": queryset,
            "sql": sql,
            "params": params,
            "where": where[0],
            "state": {
                "select": select,
                "klass_info": klass_info,
                "annotation_col_map": compiler.annotation_col_map,
                "col_count": compiler.col_count,
                "has_extra_select": compiler.has_extra_select,
            },
            "init_list": [f[0].target.attname for f in select[start:end]],
            "slice": (start, end),
            "populators": get_related_populators(klass_info, select, queryset.db),
        }

    def get(self, pk):
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = self._compile()
        compiled = self._compiled
        if not compiled:
            return self._queryset.filter(pk=pk).first()
        queryset = compiled["queryset"]
        model = queryset.model
        params = list(compiled["params"])
        params[compiled["where"]] = model._meta.pk.get_prep_value(pk)
        sql = compiled["sql"]
        db = queryset.db
        compiler = queryset.query.get_compiler(using=db)
        compiler.__dict__.update(compiled["state"])
        compiler.as_sql = lambda *args, **kwargs: (sql, tuple(params))
        start, end = compiled["slice"]
        annotations = compiled["state"]["annotation_col_map"]
        for row in compiler.results_iter(compiler.execute_sql()):
            obj = model.from_db(db, compiled["init_list"], row[start:end])
            for populator in compiled["populators"]:
                populator.populate(row, obj)
            for name, position in (annotations or {}).items():
                setattr(obj, name, row[position])
            return obj
        return None
