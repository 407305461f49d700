"""Importers of the assets app (see ``itassets.importing`` for the reader, the service and the
error workbook): the asset register, people, departments, locations, categories with their
custom-field schemas, and models."""

from .assets import ASSET_COLUMNS, AssetImporter, custom_display, status_lookup
from .catalog import CategoryImporter, ModelImporter
from .org import DepartmentImporter, LocationImporter, PersonImporter

__all__ = [
    "ASSET_COLUMNS",
    "AssetImporter",
    "CategoryImporter",
    "DepartmentImporter",
    "LocationImporter",
    "ModelImporter",
    "PersonImporter",
    "custom_display",
    "status_lookup",
]
