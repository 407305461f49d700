# Shared by deploy/backup.sh and deploy/restore.sh (sourced, not run).
#
# The database and the bucket are the ones the application itself is configured for: the
# connection comes from Django's settings (DATABASE_URL, MINIO_*, or the .env file), so a
# backup never talks to a different database than the one the site uses.

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '%s: FAILED: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$APP_DIR/.venv/bin/python" ]; then
        PYTHON="$APP_DIR/.venv/bin/python"
    else
        PYTHON="$(command -v python3 || command -v python || true)"
    fi
fi
[ -n "$PYTHON" ] || die "no python found (set PYTHON)"

MYSQL="$(command -v mariadb || command -v mysql || true)"
MYSQLDUMP="$(command -v mariadb-dump || command -v mysqldump || true)"

manage() { (cd "$APP_DIR" && "$PYTHON" manage.py "$@"); }

# write_client_config FILE: a MySQL option file ([client], mode 0600) for the configured
# database, so that the password never appears on a command line. Prints the database name.
write_client_config() {
    local file="$1"
    (umask 077 && : >"$file")
    (cd "$APP_DIR" && DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-itassets.settings}" \
        "$PYTHON" - "$file" <<'PY'
import sys

import django

django.setup()
from django.conf import settings

db = settings.DATABASES["default"]
if db["ENGINE"] != "django.db.backends.mysql":
    sys.exit(
        "the configured database is not MySQL/MariaDB (DATABASE_URL unset?): this script "
        "backs up MySQL/MariaDB only"
    )


def quoted(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


lines = ["[client]", f"host={quoted(db.get('HOST') or '127.0.0.1')}"]
if db.get("PORT"):
    lines.append(f"port={int(db['PORT'])}")
lines.append(f"user={quoted(db.get('USER') or '')}")
if db.get("PASSWORD"):
    lines.append(f"password={quoted(db['PASSWORD'])}")
lines.append("default-character-set=utf8mb4")
with open(sys.argv[1], "w") as handle:
    handle.write("\n".join(lines) + "\n")
print(db["NAME"])
PY
    )
}
