"""``manage.py seed_demo``: the demo organisation, one login user per role and, when the
inventory app is installed, demo consumables with opening stock (idempotent).

assets does not depend on inventory (inventory depends on assets): the consumables step
imports ``inventory.demo`` inside the command, only if ``apps.is_installed("inventory")``.
"""

import unicodedata

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from assets import demo
from itassets.roles import ROLES

# The hand-written demo consumables of inventory/demo.py (toner, cable, mice, disks, memory).
DEFAULT_ITEMS = 8


def _width(text: str) -> int:
    """Terminal columns of a string: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [f"{c}{' ' * (w - _width(str(c)))}" for c, w in zip(row, widths, strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


class Command(BaseCommand):
    help = (
        "Create the demo organisation (departments, locations, people), one login user per "
        "role and demo consumables with opening stock. Deterministic for --seed; running it "
        "again changes nothing. Passwords are random and printed only when a user is first "
        "created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument(
            "--people",
            type=int,
            default=demo.DEFAULT_PEOPLE,
            help=f"number of people, including the {len(demo.DEMO_USERS)} demo users' persons",
        )
        parser.add_argument(
            "--assets", type=int, default=0, help="demo assets (not supported yet; added later)"
        )
        parser.add_argument(
            "--items",
            type=int,
            default=None,
            help=f"demo consumables (default {DEFAULT_ITEMS}: the hand-written ones; 0: none)",
        )

    def handle(self, *args, seed, people, assets, items, **options):
        if items is None:
            items = DEFAULT_ITEMS
        if people < 0 or assets < 0 or items < 0:
            raise CommandError("--people, --assets and --items must not be negative")
        result = demo.seed_demo(seed=seed, people=people)

        out = self.stdout
        out.write(f"Demo data (seed {result.seed}):")
        for name, counts in result.counts.items():
            out.write(f"  {name}: {counts}")
        if items:
            self._seed_consumables(items=items, seed=seed)
        if assets:
            out.write(
                self.style.WARNING(
                    f"--assets {assets}: not supported yet (added by the register issue); "
                    "nothing created."
                )
            )

        if result.users.created:
            out.write("")
            out.write(self.style.SUCCESS("Demo users (the passwords are shown only this once):"))
            rows = [(ROLES[u.role].group, u.username, u.password) for u in result.users.created]
            for line in _table(("role", "username", "password"), rows):
                out.write(line)
        if result.users.existing:
            out.write("")
            out.write(
                f"Demo users {', '.join(result.users.existing)} already exist; their passwords "
                "are unchanged. To set a new one: python manage.py changepassword <username>"
            )

    def _seed_consumables(self, *, items: int, seed: int) -> None:
        if not apps.is_installed("inventory"):
            self.stdout.write(
                self.style.WARNING(f"--items {items}: the inventory app is not installed.")
            )
            return
        from inventory.demo import seed_inventory  # inventory depends on assets, not back

        result = seed_inventory(items=items, seed=seed)
        self.stdout.write(
            f"  consumables: {result.items_created} created, {result.items_updated} updated; "
            f"{result.warehouses} warehouses, {result.receipts} opening receipts posted"
        )
