#!/usr/bin/env bash
# deploy/restore.sh BACKUP_DIR — put a deploy/backup.sh backup back into an EMPTY system.
#
# 1. verifies SHA256SUMS and the file manifest (nothing is written if either fails);
# 2. restores db.sql.gz into the configured database, which must have no tables (it is
#    created, utf8mb4, when it does not exist and the account may create it);
# 3. uploads the files into the configured bucket, which must be empty
#    (manage.py restore_files: checks every SHA-256 first and the bucket's listing after).
#
# Database and bucket are the ones the application is configured for (DATABASE_URL, MINIO_*
# or the .env file). Stop web, worker and beat first. If the code is newer than the backup,
# run `manage.py migrate` afterwards. Exit status 0 only when both parts were restored.
set -Eeuo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 1 ] || { echo "usage: $0 BACKUP_DIR" >&2; exit 2; }
BACKUP_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
[ -n "$MYSQL" ] || die "mysql/mariadb client not found (Debian: apt-get install mariadb-client)"
for f in SHA256SUMS db.sql.gz files/manifest.json; do
    [ -f "$BACKUP_DIR/$f" ] || die "$BACKUP_DIR/$f is missing: not a backup.sh backup"
done

CLIENT_CNF="$(mktemp)"
trap 'status=$?; rm -f "$CLIENT_CNF"; [ $status -eq 0 ] || echo "restore.sh: FAILED (exit $status)" >&2' EXIT

say "verifying checksums"
(cd "$BACKUP_DIR" && sha256sum --check --quiet SHA256SUMS) || die "SHA256SUMS does not verify"
gzip -t "$BACKUP_DIR/db.sql.gz" || die "db.sql.gz is damaged"

DB_NAME="$(write_client_config "$CLIENT_CNF")" || die "cannot read the database settings"
sql() { "$MYSQL" --defaults-extra-file="$CLIENT_CNF" -N -B "$@"; }

sql -e "SELECT 1" >/dev/null || die "cannot connect to the database server"
EXISTS="$(sql -e "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$DB_NAME'")"
if [ "$EXISTS" -eq 0 ]; then
    say "creating database $DB_NAME"
    sql -e "CREATE DATABASE \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" \
        || die "database $DB_NAME does not exist and cannot be created"
fi
TABLES="$(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB_NAME'")"
[ "$TABLES" -eq 0 ] || die "database $DB_NAME already has $TABLES tables: restore into an empty database"

# The bucket is checked before the database is touched, so a refused restore changes nothing.
RESTORE_FILES_DIR="$BACKUP_DIR/files" manage shell --no-imports -c "
import os, sys
from itassets.backup import BackupError, current_objects, storage_description, verify_backup
try:
    verify_backup(os.environ['RESTORE_FILES_DIR'])
except BackupError as exc:
    sys.exit(f'restore_files: {exc}')
if current_objects():
    sys.exit(f'the bucket ({storage_description()}) is not empty: restore into an empty bucket')
" || die "the files cannot be restored (see above); nothing was changed"

say "restoring database $DB_NAME"
gzip -dc "$BACKUP_DIR/db.sql.gz" | sql "$DB_NAME" || die "loading db.sql.gz into $DB_NAME failed"
RESTORED="$(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB_NAME' \
    AND TABLE_TYPE = 'BASE TABLE'")"
EXPECTED="$(gzip -dc "$BACKUP_DIR/db.sql.gz" | grep -c '^CREATE TABLE ' || true)"
[ "$RESTORED" -eq "$EXPECTED" ] || die "restored $RESTORED tables, the dump has $EXPECTED"

say "restoring files"
manage restore_files --from "$BACKUP_DIR/files" >&2 || die "restore_files failed"

say "restored $BACKUP_DIR: $RESTORED tables into $DB_NAME, files into the bucket"
