#!/usr/bin/env bash
# deploy/backup.sh — one consistent backup of itassets: the database and every uploaded file.
#
#   deploy/backup.sh [BACKUP_ROOT]
#
# Writes BACKUP_ROOT/itassets-<UTC time>/ (via a .partial directory renamed at the end):
#   db.sql.gz          mysqldump --single-transaction --routines --triggers, gzip
#   files/             manage.py backup_files: every object of the bucket + manifest.json
#                      (key, size, SHA-256, content type of each)
#   migrations.txt     manage.py showmigrations: the code version the dump belongs to
#   SHA256SUMS         checksums of db.sql.gz, files/manifest.json, migrations.txt
# then deletes backups older than BACKUP_RETENTION_DAYS (default 7) in BACKUP_ROOT.
#
# Database and bucket are the ones the application is configured for (DATABASE_URL, MINIO_*
# or the .env file). In Docker Compose: `docker compose --profile backup run --rm backup`.
#
# Environment: BACKUP_ROOT (default: ./var/backups), BACKUP_RETENTION_DAYS (7),
# BACKUP_MIN_DUMP_BYTES (uncompressed dump smaller than this is an error; default 20000),
# PYTHON (default: .venv/bin/python, else python3).
# Exit status: 0 when everything above succeeded; non-zero otherwise, and no backup directory
# is left behind (a failed run never counts as a backup and never triggers the clean-up).
set -Eeuo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BACKUP_ROOT="${1:-${BACKUP_ROOT:-$APP_DIR/var/backups}}"
RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-7}"
MIN_DUMP_BYTES="${BACKUP_MIN_DUMP_BYTES:-20000}"

[[ "$RETENTION_DAYS" =~ ^[0-9]+$ ]] || die "BACKUP_RETENTION_DAYS must be a whole number of days"
[[ "$MIN_DUMP_BYTES" =~ ^[0-9]+$ ]] || die "BACKUP_MIN_DUMP_BYTES must be a number of bytes"
[ -n "$MYSQLDUMP" ] || die "mysqldump/mariadb-dump not found (Debian: apt-get install mariadb-client)"
[ -n "$MYSQL" ] || die "mysql/mariadb client not found (Debian: apt-get install mariadb-client)"

mkdir -p "$BACKUP_ROOT"
BACKUP_ROOT="$(cd "$BACKUP_ROOT" && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
FINAL="$BACKUP_ROOT/itassets-$STAMP"
WORK="$FINAL.partial"
CLIENT_CNF="$(mktemp)"

cleanup() {
    local status=$?
    rm -f "$CLIENT_CNF"
    if [ "$status" -ne 0 ]; then
        rm -rf "$WORK"
        printf 'backup.sh: FAILED (exit %s); no backup was written\n' "$status" >&2
    fi
    exit "$status"
}
trap cleanup EXIT

[ ! -e "$FINAL" ] && [ ! -e "$WORK" ] || die "$FINAL already exists"
mkdir -p "$WORK"

# --- database -------------------------------------------------------------------------------
DB_NAME="$(write_client_config "$CLIENT_CNF")" || die "cannot read the database settings"
say "dumping database $DB_NAME"
TABLES="$("$MYSQL" --defaults-extra-file="$CLIENT_CNF" -N -B -e \
    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
     AND TABLE_TYPE = 'BASE TABLE'" "$DB_NAME")" || die "cannot connect to database $DB_NAME"
[ "$TABLES" -gt 0 ] || die "database $DB_NAME has no tables (not migrated?)"

"$MYSQLDUMP" --defaults-extra-file="$CLIENT_CNF" \
    --single-transaction --routines --triggers --no-tablespaces --hex-blob \
    --default-character-set=utf8mb4 "$DB_NAME" | gzip -6 >"$WORK/db.sql.gz" \
    || die "mysqldump of $DB_NAME failed"

gzip -t "$WORK/db.sql.gz" || die "db.sql.gz is not a valid gzip file"
DUMP_BYTES="$(gzip -dc "$WORK/db.sql.gz" | wc -c)"
DUMP_TABLES="$(gzip -dc "$WORK/db.sql.gz" | grep -c '^CREATE TABLE ' || true)"
gzip -dc "$WORK/db.sql.gz" | tail -n 1 | grep -q '^-- Dump completed' \
    || die "the dump does not end with '-- Dump completed': it was cut short"
[ "$DUMP_BYTES" -ge "$MIN_DUMP_BYTES" ] \
    || die "the dump is suspiciously small: $DUMP_BYTES bytes < BACKUP_MIN_DUMP_BYTES=$MIN_DUMP_BYTES"
[ "$DUMP_TABLES" -eq "$TABLES" ] \
    || die "the dump has $DUMP_TABLES tables, the database $TABLES"
say "database: $TABLES tables, $DUMP_BYTES bytes uncompressed"

# --- files ----------------------------------------------------------------------------------
say "copying the uploaded files"
manage backup_files --to "$WORK/files" >&2 || die "backup_files failed"
manage showmigrations --list >"$WORK/migrations.txt" || die "showmigrations failed"

(cd "$WORK" && sha256sum db.sql.gz files/manifest.json migrations.txt >SHA256SUMS) \
    || die "sha256sum failed"
(cd "$WORK" && sha256sum --check --quiet SHA256SUMS) || die "checksums do not verify"

mv "$WORK" "$FINAL"
say "backup written: $FINAL"

# --- retention ------------------------------------------------------------------------------
# By the time in the directory name, never by mtime (copies and restores change mtimes).
CUTOFF="$(date -u -d "-$RETENTION_DAYS days" +%Y%m%dT%H%M%SZ)"
for dir in "$BACKUP_ROOT"/itassets-*; do
    [ -d "$dir" ] || continue
    name="$(basename "$dir")"
    stamp="${name#itassets-}"
    stamp="${stamp%.partial}"
    [[ "$stamp" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || continue
    [ "$dir" != "$FINAL" ] || continue
    if [[ "$stamp" < "$CUTOFF" ]]; then
        say "retention ($RETENTION_DAYS days): deleting $name"
        rm -rf "$dir"
    fi
done

echo "$FINAL"
