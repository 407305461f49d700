"""``manage.py import_locations FILE``: see itassets.importing.command."""

from itassets.importing.command import ImportCommand


class Command(ImportCommand):
    kind = "locations"
