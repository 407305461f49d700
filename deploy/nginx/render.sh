#!/bin/sh
# Render itassets' nginx configuration into a directory nginx runs from.
#
#   render.sh [OUTDIR]          (default /etc/nginx)
#
# In the nginx container (docker-compose.yml) this file is /docker-entrypoint.d/40-itassets.sh:
# the official image runs it before nginx starts. deploy/smoke.sh and the tests run it with a
# temporary OUTDIR and loopback addresses. Writes OUTDIR/nginx.conf, OUTDIR/conf.d/itassets-*
# and, when OUTDIR has none, OUTDIR/mime.types.
#
# Variables (defaults are the compose values):
#   ITASSETS_UPSTREAM          web:8000         gunicorn
#   ITASSETS_S3_UPSTREAM       minio:9000       MinIO, for presigned download links
#   ITASSETS_BUCKET            itassets         the bucket (MINIO_BUCKET): /<bucket>/ → MinIO
#   NGINX_HTTP_LISTEN          80
#   NGINX_HTTPS_LISTEN         443
#   NGINX_HTTPS_REDIRECT_PORT  ""               ":8443" when HTTPS is not on 443
#   NGINX_CERT_DIR             /etc/nginx/certs fullchain.pem + privkey.pem
#   NGINX_TLS                  auto             auto: HTTPS when both certificate files exist;
#                                               on: require them; off: plain HTTP only
#   ITASSETS_NGINX_SRC         the directory of this script, or /etc/nginx/itassets
set -eu

OUT="${1:-/etc/nginx}"
SRC="${ITASSETS_NGINX_SRC:-}"
if [ -z "$SRC" ]; then
    SRC="$(cd "$(dirname "$0")" && pwd)"
    [ -f "$SRC/templates/itassets-upstream.conf.template" ] || SRC=/etc/nginx/itassets
fi
[ -f "$SRC/nginx.conf" ] || { echo "render.sh: no nginx.conf in $SRC" >&2; exit 1; }

export ITASSETS_UPSTREAM="${ITASSETS_UPSTREAM:-web:8000}"
export ITASSETS_S3_UPSTREAM="${ITASSETS_S3_UPSTREAM:-minio:9000}"
export ITASSETS_BUCKET="${ITASSETS_BUCKET:-itassets}"
export NGINX_HTTP_LISTEN="${NGINX_HTTP_LISTEN:-80}"
export NGINX_HTTPS_LISTEN="${NGINX_HTTPS_LISTEN:-443}"
export NGINX_HTTPS_REDIRECT_PORT="${NGINX_HTTPS_REDIRECT_PORT:-}"
export NGINX_CERT_DIR="${NGINX_CERT_DIR:-/etc/nginx/certs}"
TLS="${NGINX_TLS:-auto}"
case "$ITASSETS_BUCKET" in
    "" | *[!a-z0-9.-]*) echo "render.sh: ITASSETS_BUCKET must be an S3 bucket name (got '$ITASSETS_BUCKET')" >&2; exit 1 ;;
    static | assets | accounts | admin | media | health | ready | metrics | imports)
        echo "render.sh: bucket name '$ITASSETS_BUCKET' collides with an application path" >&2; exit 1 ;;
esac

if [ -s "$NGINX_CERT_DIR/fullchain.pem" ] && [ -s "$NGINX_CERT_DIR/privkey.pem" ]; then
    have_certs=yes
else
    have_certs=no
fi
case "$TLS" in
    auto) [ "$have_certs" = yes ] && mode=https || mode=http ;;
    on)
        [ "$have_certs" = yes ] || {
            echo "render.sh: NGINX_TLS=on but $NGINX_CERT_DIR/fullchain.pem or privkey.pem is missing" >&2
            exit 1
        }
        mode=https
        ;;
    off) mode=http ;;
    *) echo "render.sh: NGINX_TLS must be auto, on or off (got $TLS)" >&2; exit 1 ;;
esac

VARS='${ITASSETS_UPSTREAM} ${ITASSETS_S3_UPSTREAM} ${ITASSETS_BUCKET} ${NGINX_HTTP_LISTEN} ${NGINX_HTTPS_LISTEN} ${NGINX_HTTPS_REDIRECT_PORT} ${NGINX_CERT_DIR}'
mkdir -p "$OUT/conf.d"
rm -f "$OUT"/conf.d/itassets-*
cp "$SRC/nginx.conf" "$OUT/nginx.conf"
[ -f "$OUT/mime.types" ] || cp /etc/nginx/mime.types "$OUT/mime.types"
for name in itassets-upstream.conf itassets-locations.inc "itassets-$mode.conf"; do
    envsubst "$VARS" <"$SRC/templates/$name.template" >"$OUT/conf.d/$name"
done
echo "render.sh: itassets nginx configuration in $OUT ($mode, upstream $ITASSETS_UPSTREAM)"
