"""``manage.py bootstrap_admin``: the first administrator, non-interactively, from the environment.

    ADMIN_USERNAME=admin ADMIN_PASSWORD='…' ADMIN_EMAIL=it@example.cn \\
        python manage.py bootstrap_admin

Creates the user as an active superuser in the 系统管理员 group, or brings an existing one back
to that state. Running it again changes nothing; the password of an existing user is kept
unless ``--reset-password``. Weak passwords (Django's AUTH_PASSWORD_VALIDATORS) are refused.
Exit status 0 on success, 1 with a message otherwise.
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from itassets.services import admin_bootstrap


class Command(BaseCommand):
    help = (
        "Create or update the first administrator from ADMIN_USERNAME, ADMIN_PASSWORD and "
        "ADMIN_EMAIL (non-interactive, idempotent; weak passwords are refused)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="also set ADMIN_PASSWORD on an existing user (default: keep its password)",
        )
        parser.add_argument(
            "--if-configured",
            action="store_true",
            help="exit 0 without doing anything when ADMIN_USERNAME or ADMIN_PASSWORD is unset "
            "(for start-up scripts)",
        )

    def handle(self, *args, reset_password: bool, if_configured: bool, **options):
        username = os.environ.get("ADMIN_USERNAME", "").strip()
        password = os.environ.get("ADMIN_PASSWORD", "")
        email = os.environ.get("ADMIN_EMAIL", "").strip()
        if not username or not password:
            if if_configured:
                self.stdout.write("bootstrap_admin: ADMIN_USERNAME/ADMIN_PASSWORD unset, skipped.")
                return
            raise CommandError(
                "Set ADMIN_USERNAME and ADMIN_PASSWORD (and optionally ADMIN_EMAIL) in the "
                "environment."
            )
        try:
            result = admin_bootstrap(
                username=username, password=password, email=email, reset_password=reset_password
            )
        except ValidationError as exc:
            problems = "\n  - ".join(exc.messages)
            raise CommandError(f"Administrator {username!r} not saved:\n  - {problems}") from exc

        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Created administrator {username!r}."))
        elif result.changed:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Updated administrator {username!r}: {', '.join(result.changed)}."
                )
            )
        else:
            self.stdout.write(f"Administrator {username!r} is already set up; nothing changed.")
        if not result.password_set:
            self.stdout.write(
                "The existing password was kept (use --reset-password to set ADMIN_PASSWORD)."
            )
