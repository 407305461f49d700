"""``manage.py seed_demo``: the demo organisation, one login user per role, the demo catalog,
demo assets (``--assets``: the register is topped up to N) and, when the inventory app is
installed, demo consumables with opening stock. Running it again adds nothing.

assets does not depend on inventory (inventory depends on assets): the consumables step
imports ``inventory.demo`` inside the command, only if ``apps.is_installed("inventory")``.
"""

import sys
import time
import unicodedata

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from assets import demo, demo_catalog, demo_register
from itassets.roles import ROLES

# The hand-written demo consumables of inventory/demo.py (toner, cable, mice, disks, memory).
DEFAULT_ITEMS = 8
# Without --people: the demo's 40 people, or one person per this many assets if more.
ASSETS_PER_PERSON = 25


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
        "role, the demo catalog, demo assets and demo consumables with opening stock. "
        "Deterministic for --seed; running it again adds nothing. Passwords are random and "
        "printed only when a user is first created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument(
            "--people",
            type=int,
            default=None,
            help=(
                f"number of people, including the {len(demo.DEMO_USERS)} demo users' persons "
                f"(default {demo.DEFAULT_PEOPLE}, or one per {ASSETS_PER_PERSON} assets if "
                "that is more)"
            ),
        )
        parser.add_argument(
            "--assets",
            type=int,
            default=demo_register.DEFAULT_ASSETS,
            help=(
                "top the register up to this many assets (default "
                f"{demo_register.DEFAULT_ASSETS}; assets already there count, none is deleted)"
            ),
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
        if people is None:
            people = max(demo.DEFAULT_PEOPLE, assets // ASSETS_PER_PERSON)
        if people < 0 or assets < 0 or items < 0:
            raise CommandError("--people, --assets and --items must not be negative")
        result = demo.seed_demo(seed=seed, people=people)

        out = self.stdout
        out.write(f"Demo data (seed {result.seed}):")
        for name, counts in result.counts.items():
            out.write(f"  {name}: {counts}")
        for name, counts in demo_catalog.seed_catalog().counts.items():
            out.write(f"  {name}: {counts}")
        if items:
            self._seed_consumables(items=items, seed=seed)
        self._seed_assets(assets=assets, seed=seed, people=people)

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

    def _seed_assets(self, *, assets: int, seed: int, people: int) -> None:
        started = time.monotonic()
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:  # shown on a terminal only
                bar = tqdm(total=total, unit=" assets", file=sys.stderr, disable=None)
            bar.update(done - bar.n)

        try:
            result = demo_register.seed_assets(
                assets=assets, seed=seed, people=people, progress=progress
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        total = result.existing + result.created
        if result.created:
            self.stdout.write(
                f"  assets: {result.created} created ({result.repairs} in repair with a repair "
                f"order, {result.approvals} disposal requests) in "
                f"{time.monotonic() - started:.1f} s; the register holds {total}"
            )
        else:
            self.stdout.write(
                f"  assets: 0 created; the register already holds {total} (--assets {assets})"
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
