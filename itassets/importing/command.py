"""The management command behind ``import_assets``, ``import_people`` … (one subclass each).

    python manage.py import_assets FILE [--dry-run] [--encoding gb18030] [--sheet 资产]
                                        [--create-missing-refs] [--user clerk]

Validates the whole file, shows a progress bar (rows/s, ETA) on stderr, prints a summary and
the first 50 errors, writes ``<file>.errors.xlsx`` when there are errors, and exits with 1
(nothing written) or 0. Messages are in ``--language`` (default: the site's, Chinese).
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from .service import KINDS, error_workbook_path, error_workbook_write, import_file

SHOWN_ERRORS = 50


class ImportCommand(BaseCommand):
    kind = ""
    leave_locale_alone = True

    @property
    def help(self):
        return f"Import {self.kind} from an .xlsx workbook or a CSV file (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an .xlsx workbook or a .csv file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate everything, write nothing"
        )
        parser.add_argument(
            "--encoding", help="CSV encoding (default: detected; utf-8, gb18030, …)"
        )
        parser.add_argument("--sheet", help="the workbook's sheet (default: the first)")
        parser.add_argument(
            "--create-missing-refs",
            action="store_true",
            help="create unknown departments, locations, models, … instead of reporting them",
        )
        parser.add_argument("--user", help="username recorded as the actor (default: none)")
        parser.add_argument(
            "--language", default=settings.LANGUAGE_CODE, help="language of the messages"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-error-file", action="store_true", help="do not write <file>.errors.xlsx"
        )

    def handle(self, *args, **options):
        with translation.override(options["language"]):
            return self._handle(options)

    def _handle(self, options):
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(_("No user “%(user)s”.") % {"user": options["user"]})
        bar = _ProgressBar(disabled=options["no_progress"], stream=self.stderr._out)
        try:
            result = import_file(
                kind=self.kind,
                path=options["file"],
                actor=actor,
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                sheet=options["sheet"],
                create_missing_refs=options["create_missing_refs"],
                progress=bar.update,
            )
        except FileNotFoundError:
            raise CommandError(_("No file “%(file)s”.") % {"file": options["file"]}) from None
        finally:
            bar.close()
        self._report(result)
        if result.errors:
            if not options["no_error_file"] and result.header_row is not None:
                out_path = error_workbook_path(options["file"])
                with open(out_path, "wb") as out:
                    error_workbook_write(
                        result=result,
                        source=options["file"],
                        out=out,
                        encoding=options["encoding"],
                        sheet=options["sheet"],
                    )
                self.stdout.write(
                    _("Error workbook (bad cells in red): %(path)s") % {"path": out_path}
                )
            raise CommandError(
                _("%(n)s errors in %(rows)s rows: nothing was imported.")
                % {"n": len(result.errors), "rows": result.error_rows},
                returncode=1,
            )

    def _report(self, result) -> None:
        w = self.stdout.write
        label = KINDS[self.kind][0]
        rate = result.rows / result.elapsed if result.elapsed else 0
        w(
            _("%(kind)s: %(rows)s data rows in %(seconds).1f s (%(rate)s rows/s)")
            % {
                "kind": label,
                "rows": f"{result.rows:,}",
                "seconds": result.elapsed,
                "rate": f"{rate:,.0f}",
            }
        )
        if result.encoding:
            w(_("Encoding: %(encoding)s") % {"encoding": result.encoding})
        for warning in result.warnings:
            w(self.style.WARNING(warning))
        verb = _("would be") if result.dry_run or result.errors else _("were")
        w(
            _(
                "New: %(created)s, updated: %(updated)s, unchanged: %(unchanged)s (%(verb)s "
                "written)."
            )
            % {
                "created": f"{result.created:,}",
                "updated": f"{result.updated:,}",
                "unchanged": f"{result.unchanged:,}",
                "verb": verb,
            }
        )
        for name, n in result.refs_created.items():
            w(_("Created %(n)s %(what)s.") % {"n": n, "what": name})
        if not result.errors:
            if result.dry_run:
                w(self.style.SUCCESS(_("Dry run: no errors, nothing written.")))
            else:
                w(self.style.SUCCESS(_("Imported.")))
            return
        w(self.style.ERROR(_("Errors (row, column, value: reason):")))
        for issue in result.errors[:SHOWN_ERRORS]:
            where = _("row %(row)s") % {"row": issue.row} if issue.row else _("file")
            column = f" {issue.column}" if issue.column else ""
            value = f" “{issue.value}”" if issue.value else ""
            w(f"  {where}{column}{value}: {issue.reason}")
        if len(result.errors) > SHOWN_ERRORS:
            w(
                _("… and %(n)s more (see the error workbook).")
                % {"n": len(result.errors) - SHOWN_ERRORS}
            )


class _ProgressBar:
    """A tqdm bar per phase (validate, write) showing rows/s and the time left."""

    def __init__(self, *, disabled: bool, stream=None):
        self.disabled = disabled or not (stream or sys.stderr).isatty()
        self.stream = stream or sys.stderr
        self.bar = None
        self.phase = None

    def update(self, phase: str, done: int, total: int | None) -> None:
        if self.disabled:
            return
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            desc = _("validating") if phase == "validate" else _("writing")
            self.bar = tqdm(
                total=total,
                desc=desc,
                unit=" rows",
                unit_scale=True,
                file=self.stream,
                dynamic_ncols=True,
            )
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
