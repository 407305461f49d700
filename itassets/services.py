"""Project-level services (writes): the first administrator of a new installation."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .roles import ADMIN, ROLES


@dataclass(frozen=True)
class AdminBootstrapResult:
    user: object
    created: bool
    password_set: bool
    changed: tuple[str, ...]


@transaction.atomic
def admin_bootstrap(
    *, username: str, password: str, email: str = "", reset_password: bool = False
) -> AdminBootstrapResult:
    """Make ``username`` an active superuser in the 系统管理员 group (create it if missing).

    Idempotent: an existing user keeps its password unless ``reset_password`` (an operator
    may have changed it since), and only the flags, group and e-mail that differ are saved.
    A password that is set is checked by ``AUTH_PASSWORD_VALIDATORS`` first; a weak one
    raises ``ValidationError`` and nothing is written.
    """
    User = get_user_model()
    username = username.strip()
    email = email.strip()
    if not username:
        raise ValidationError({"username": "ADMIN_USERNAME is empty."})
    if email:
        validate_email(email)
    group = Group.objects.get(name=ROLES[ADMIN].group)

    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created:
        user = User(username=username, email=email)
    set_password = created or reset_password
    if set_password:
        validate_password(password, user=user)
        user.set_password(password)

    changed = []
    for name, value in (("is_active", True), ("is_staff", True), ("is_superuser", True)):
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if email and user.email != email:
        user.email = email
        changed.append("email")
    if set_password:
        changed.append("password")
    if created:
        user.full_clean(exclude=["password"])
        user.save()
    elif changed:
        user.save(update_fields=changed)
    if not user.groups.filter(pk=group.pk).exists():
        user.groups.add(group)
        changed.append("group")
    return AdminBootstrapResult(
        user=user, created=created, password_set=set_password, changed=tuple(changed)
    )
