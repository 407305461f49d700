#!/usr/bin/env bash
# deploy/smoke.sh — itassets run as in production, on this machine, with the deployment files.
#
# There is no Docker engine here, so what docker-compose.yml runs is started as real processes
# on loopback ports: an S3 server (weed, standing in for MinIO, with the test fixture's flags),
# gunicorn, a Celery worker and beat (all three through deploy/entrypoint.sh, with
# deploy/gunicorn.conf.py), nginx from Debian with deploy/nginx rendered by render.sh (HTTPS
# with a certificate made for the run), a local webhook receiver; MariaDB database
# itassets_smoke (created fresh) and Redis DB 14. Production settings: DEBUG=false, a random
# SECRET_KEY, hashed static files, PROXY_COUNT=1, secure cookies, HSTS.
# Then migrate + bootstrap_admin (the entrypoint's migrate role), `check --deploy`, and
# deploy/smoke_client.py goes through nginx as a user and an operator would.
#
#   deploy/smoke.sh           # exit 0 only when every check passed; about a minute
#
# Needs: MariaDB on 127.0.0.1:3306 (root, no password) and Redis on 127.0.0.1:6379 (as the test
# suite), Debian's nginx and openssl, the dev virtualenv (.venv, `make install-dev`).
# Environment: SMOKE_KEEP=1 keeps the work directory (logs) after success.
set -Eeuo pipefail

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$APP_DIR"
VENV_BIN="$APP_DIR/.venv/bin"
PYTHON="$VENV_BIN/python"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
DB_NAME=itassets_smoke
REDIS_DB=14
STARTED=$SECONDS

fail() { printf '\nsmoke: FAILED: %s\n' "$*" >&2; exit 1; }
say() { printf '== %s (%ss)\n' "$*" "$((SECONDS - STARTED))"; }

[ -x "$PYTHON" ] || fail "no virtualenv at .venv (run: make install-dev)"
[ -x "$NGINX" ] || fail "nginx is missing (apt-get install nginx)"
command -v openssl >/dev/null || fail "openssl is missing"
command -v envsubst >/dev/null || fail "envsubst is missing (apt-get install gettext-base)"
mysql -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1 || fail "MariaDB is not answering on 127.0.0.1:3306 as root"
[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ] || fail "Redis is not answering on 127.0.0.1:6379"

WORK="$(mktemp -d /tmp/itassets-smoke.XXXXXX)"
chmod 0755 "$WORK"
declare -A PIDS=()

stop_all() {
    local status=$?
    set +e
    for name in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$name]}" 2>/dev/null
    done
    for _ in $(seq 1 50); do
        local alive=0
        for name in "${!PIDS[@]}"; do
            kill -0 "${PIDS[$name]}" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.2
    done
    for name in "${!PIDS[@]}"; do
        kill -KILL "${PIDS[$name]}" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$status" -ne 0 ]; then
        for log in "$WORK"/*.log; do
            [ -f "$log" ] || continue
            printf '\n--- %s (last 40 lines)\n' "$(basename "$log")" >&2
            tail -n 40 "$log" >&2
        done
        printf '\nsmoke: logs kept in %s\n' "$WORK" >&2
    else
        mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`$DB_NAME\`" 2>/dev/null
        redis-cli -h 127.0.0.1 -n "$REDIS_DB" flushdb >/dev/null 2>&1
        if [ "${SMOKE_KEEP:-0}" = 1 ]; then
            echo "smoke: work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: a background process in a session of its own, logged to WORK/NAME.log.
start() {
    local name="$1"
    shift
    setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    PIDS[$name]=$!
}

alive() {
    for name in "$@"; do
        kill -0 "${PIDS[$name]}" 2>/dev/null || fail "$name exited (see $WORK/$name.log)"
    done
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
    local what="$1" limit="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what did not come up within ${limit}s"
        sleep 0.3
    done
}

# --- ports, certificate, S3 -----------------------------------------------------------------
# weed listens on each port and on port+10000 (gRPC): the fixture's helper picks such pairs.
read -r MASTER_PORT VOLUME_PORT FILER_PORT S3_PORT WEB_PORT HTTP_PORT HTTPS_PORT HOOK_PORT < <(
    "$PYTHON" -c 'from itassets.testing.fixtures import free_ports; print(*free_ports(8))'
)
say "ports: s3 $S3_PORT, gunicorn $WEB_PORT, nginx http $HTTP_PORT https $HTTPS_PORT"

mkdir -p "$WORK/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$WORK/certs/privkey.pem" -out "$WORK/certs/fullchain.pem" >/dev/null 2>&1 \
    || fail "openssl could not make a certificate"

S3_ACCESS_KEY=itassets-smoke
S3_SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(20))')"
mkdir -p "$WORK/weed"
cat >"$WORK/weed/identities.json" <<JSON
{"identities": [{"name": "itassets", "credentials": [{"accessKey": "$S3_ACCESS_KEY",
 "secretKey": "$S3_SECRET_KEY"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
start weed "$VENV_BIN/weed" server -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$MASTER_PORT" -volume.port="$VOLUME_PORT" -filer -filer.port="$FILER_PORT" \
    -s3 -s3.port="$S3_PORT" -s3.config="$WORK/weed/identities.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
    -master.volumeSizeLimitMB=64 -volume.max=64

# --- the production environment -------------------------------------------------------------
export ITASSETS_APP_DIR="$APP_DIR"
export PATH="$VENV_BIN:$PATH"
export PYTHON
export ENV_FILE="$WORK/no-env-file"
export DJANGO_SETTINGS_MODULE=itassets.settings
export DEBUG=false
SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export CSRF_TRUSTED_ORIGINS="https://127.0.0.1:$HTTPS_PORT"
export SITE_URL="https://127.0.0.1:$HTTPS_PORT"
export DATABASE_URL="mysql://root@127.0.0.1:3306/$DB_NAME"
export REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
export CELERY_TASK_ALWAYS_EAGER=false
export MINIO_ENDPOINT="http://127.0.0.1:$S3_PORT"
export MINIO_ACCESS_KEY="$S3_ACCESS_KEY"
export MINIO_SECRET_KEY="$S3_SECRET_KEY"
export MINIO_BUCKET=itassets-smoke
export MINIO_PUBLIC_ENDPOINT="https://127.0.0.1:$HTTPS_PORT"
export PROXY_COUNT=1
METRICS_TOKEN="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')"
export METRICS_TOKEN
export METRICS_ALLOWED_IPS=192.0.2.1  # nobody here: /metrics needs the token
export STATIC_ROOT="$WORK/static"
export STATIC_MANIFEST=true
export LOG_FORMAT=json
export NOTIFY_WEBHOOK_URL="http://127.0.0.1:$HOOK_PORT/hook"
export NOTIFY_WEBHOOK_SECRET=smoke-webhook-secret
export ADMIN_USERNAME=smokeadmin
ADMIN_PASSWORD="Smoke-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))')"
export ADMIN_PASSWORD
export ADMIN_EMAIL=smoke@example.cn
export GUNICORN_BIND="127.0.0.1:$WEB_PORT"
export GUNICORN_WORKERS=2
export GUNICORN_THREADS=2
export GUNICORN_TIMEOUT=60
export CELERY_WORKER_CONCURRENCY=2

# --- database, static files, migrations, first administrator --------------------------------
say "fresh database $DB_NAME, Redis DB $REDIS_DB"
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`$DB_NAME\`;
    CREATE DATABASE \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
redis-cli -h 127.0.0.1 -n "$REDIS_DB" flushdb >/dev/null

say "collectstatic (hashed names, as the image build does), in parallel with migrate"
"$PYTHON" manage.py collectstatic --noinput -v 0 >"$WORK/collectstatic.log" 2>&1 &
COLLECTSTATIC_PID=$!
PIDS[collectstatic]=$COLLECTSTATIC_PID

say "migrate + bootstrap_admin (entrypoint role: migrate)"
deploy/entrypoint.sh migrate >"$WORK/migrate.log" 2>&1 || fail "migrate (see $WORK/migrate.log)"
grep -q "Created administrator 'smokeadmin'" "$WORK/migrate.log" || fail "bootstrap_admin did not create the administrator"
"$PYTHON" manage.py bootstrap_admin >"$WORK/migrate-again.log" 2>&1 || fail "a second bootstrap_admin failed"
grep -q "already set up; nothing changed" "$WORK/migrate-again.log" || fail "bootstrap_admin is not idempotent"

say "manage.py check --deploy --fail-level WARNING"
"$PYTHON" manage.py check --deploy --fail-level WARNING >"$WORK/check.log" 2>&1 \
    || fail "check --deploy (see $WORK/check.log)"
wait "$COLLECTSTATIC_PID" || fail "collectstatic (see $WORK/collectstatic.log)"
unset 'PIDS[collectstatic]'

say "waiting for the S3 server; creating bucket $MINIO_BUCKET"
wait_for "weed S3" 60 "$PYTHON" -c "
import boto3, os
from botocore.config import Config
c = boto3.client('s3', endpoint_url=os.environ['MINIO_ENDPOINT'], region_name='us-east-1',
    aws_access_key_id=os.environ['MINIO_ACCESS_KEY'], aws_secret_access_key=os.environ['MINIO_SECRET_KEY'],
    config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try:
    c.create_bucket(Bucket=os.environ['MINIO_BUCKET'])
except c.exceptions.BucketAlreadyOwnedByYou:
    pass
c.head_bucket(Bucket=os.environ['MINIO_BUCKET'])
"
alive weed

# A category and a model to register the asset under (the catalogue is set up in the admin).
SMOKE_MODEL_ID="$("$PYTHON" manage.py shell --no-imports -c "
from assets.models import AssetModel, Category, Manufacturer
category = Category.add_root(code='SMOKE-PC', name='计算机设备')
maker = Manufacturer.objects.create(name='联想')
print(AssetModel.objects.create(category=category, manufacturer=maker, name='ThinkPad X1',
      model_number='21KC').pk)
" 2>"$WORK/catalogue.log" | tail -n 1)" || fail "catalogue (see $WORK/catalogue.log)"
export SMOKE_MODEL_ID

# --- the processes --------------------------------------------------------------------------
say "starting gunicorn, celery worker, celery beat, webhook receiver, nginx"
# Prometheus multiprocess mode for gunicorn only, as the entrypoint does in the image.
start web env PROMETHEUS_MULTIPROC_DIR="$WORK/prometheus" deploy/entrypoint.sh web
start worker deploy/entrypoint.sh worker --hostname "smoke-$$@localhost"
start beat deploy/entrypoint.sh beat
export SMOKE_WEBHOOK_LOG="$WORK/webhook-received.jsonl"
start webhook "$PYTHON" -c "
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        with open('$SMOKE_WEBHOOK_LOG', 'a') as log:
            log.write(json.dumps({'path': self.path, 'bytes': len(body)}) + '\n')
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.end_headers()
        self.wfile.write(b'{\"ok\": true}')
    def log_message(self, fmt, *args):
        sys.stderr.write(fmt % args + '\n')
HTTPServer(('127.0.0.1', $HOOK_PORT), Hook).serve_forever()
"

ITASSETS_UPSTREAM="127.0.0.1:$WEB_PORT" ITASSETS_S3_UPSTREAM="127.0.0.1:$S3_PORT" \
    ITASSETS_BUCKET="$MINIO_BUCKET" NGINX_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" \
    NGINX_HTTPS_LISTEN="127.0.0.1:$HTTPS_PORT" NGINX_HTTPS_REDIRECT_PORT=":$HTTPS_PORT" \
    NGINX_CERT_DIR="$WORK/certs" NGINX_TLS=on \
    sh deploy/nginx/render.sh "$WORK/nginx" >"$WORK/render.log" 2>&1 || fail "render.sh (see $WORK/render.log)"
"$NGINX" -t -q -c "$WORK/nginx/nginx.conf" -g "pid $WORK/nginx.pid;" >"$WORK/nginx-t.log" 2>&1 \
    || fail "nginx -t (see $WORK/nginx-t.log)"
start nginx "$NGINX" -c "$WORK/nginx/nginx.conf" -g "pid $WORK/nginx.pid; daemon off;"

wait_for "gunicorn" 60 "$PYTHON" "$APP_DIR/deploy/healthcheck.py"
wait_for "nginx" 30 "$PYTHON" -c "
import ssl, urllib.request
ctx = ssl.create_default_context(cafile='$WORK/certs/fullchain.pem')
urllib.request.urlopen('https://127.0.0.1:$HTTPS_PORT/health', context=ctx, timeout=2)
"
wait_for "celery worker" 60 "$VENV_BIN/celery" --app itassets inspect ping \
    --destination "smoke-$$@localhost" --timeout 1
wait_for "celery beat" 30 grep -q "beat: Starting" "$WORK/beat.log"
alive weed web worker beat webhook nginx

# --- through nginx --------------------------------------------------------------------------
say "checks through nginx"
export SMOKE_HTTPS="https://127.0.0.1:$HTTPS_PORT"
export SMOKE_HTTP="http://127.0.0.1:$HTTP_PORT"
export SMOKE_CA_FILE="$WORK/certs/fullchain.pem"
export SMOKE_DATABASE="$DB_NAME"
"$PYTHON" deploy/smoke_client.py || fail "a check through nginx failed (see above)"

alive weed web worker beat webhook nginx
grep -q '"status":200' "$WORK/nginx.log" || fail "nginx wrote no JSON access log"
say "all processes still running; stopping them"
echo "smoke: passed in $((SECONDS - STARTED))s"
