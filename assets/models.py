"""The organisation (departments, locations, people) and the asset register.

Trees use django-treebeard's materialised path (MP_Node): "incl. children" filters are one
indexed ``path LIKE 'prefix%'`` and need no recursive query on MySQL or SQLite.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

PATH_SEPARATOR = "/"


class TreeNode(MP_Node):
    """A node with a unique code and a denormalised full name (``总部/研发中心/测试部``)."""

    code = models.CharField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    full_name = models.CharField(_("全称"), max_length=500, editable=False, db_index=True)
    is_active = models.BooleanField(_("启用"), default=True)

    steplen = 4
    node_order_by = []

    class Meta:
        abstract = True
        ordering = ["path"]

    def __str__(self):
        return self.full_name or self.name

    def compute_full_name(self) -> str:
        if self.depth <= 1 or not self.path:
            return self.name
        parent_path = self.path[: -self.steplen]
        parent = type(self).objects.only("full_name").get(path=parent_path)
        return f"{parent.full_name}{PATH_SEPARATOR}{self.name}"

    def save(self, *args, **kwargs):
        if self.path:
            self.full_name = self.compute_full_name()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = set(kwargs["update_fields"]) | {"full_name"}
        super().save(*args, **kwargs)

    def subtree_q(self, prefix: str = "") -> models.Q:
        """A Q matching this node and every descendant, on a relation ``prefix``."""
        return models.Q(**{f"{prefix}path__startswith": self.path})


class Department(TreeNode):
    """A department of the organisation (部门), e.g. 总部 › 研发中心 › 测试部."""

    head = models.ForeignKey(
        "Person",
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )

    class Meta(TreeNode.Meta):
        verbose_name = _("部门")
        verbose_name_plural = _("部门")


class Location(TreeNode):
    """A place (园区 › 楼栋 › 楼层 › 房间); warehouses are locations with ``is_warehouse``."""

    class Kind(models.TextChoices):
        CAMPUS = "campus", _("园区")
        BUILDING = "building", _("楼栋")
        FLOOR = "floor", _("楼层")
        ROOM = "room", _("房间")
        OTHER = "other", _("其他")

    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.ROOM)
    is_warehouse = models.BooleanField(_("是仓库"), default=False, db_index=True)

    class Meta(TreeNode.Meta):
        verbose_name = _("存放地点")
        verbose_name_plural = _("存放地点")


class Person(models.Model):
    """An employee (人员): holds assets; may have a login user."""

    employee_no = models.CharField(_("工号"), max_length=50, unique=True)
    name = models.CharField(_("姓名"), max_length=100, db_index=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="people",
    )
    title = models.CharField(_("职务"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=50, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    dingtalk_id = models.CharField(_("钉钉用户ID"), max_length=100, blank=True)
    wecom_id = models.CharField(_("企业微信用户ID"), max_length=100, blank=True)
    is_active = models.BooleanField(_("在职"), default=True, db_index=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["employee_no"]

    def __str__(self):
        return f"{self.name}（{self.employee_no}）"

    def get_absolute_url(self):
        return reverse("admin:assets_person_change", args=[self.pk])
