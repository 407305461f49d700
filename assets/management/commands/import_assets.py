"""``manage.py import_assets FILE``: see itassets.importing.command."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "assets"
