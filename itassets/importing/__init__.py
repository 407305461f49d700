"""Imports from spreadsheets: one service for the management commands and the web page.

- ``reader``: .xlsx and CSV files as rows (encodings, limits, zip-bomb check, header search).
- ``values``: cell parsers (dates, amounts, yes/no, text) and header normalisation.
- ``base``: the importer framework (columns and aliases, per-cell errors, results).
- ``service``: ``import_file`` (validate, then all-or-nothing write), the error workbook and
  the templates; ``KINDS`` names the importers (``assets.importers``, ``items``).
- ``command``: the shared management command; ``views``/``tasks``: the web import at
  ``/imports/`` (ImportJob in ``itassets.models``).

See docs/imports.md for the design decisions and the benchmark.
"""
