#!/bin/sh
# Entry point of the itassets image: one image, one role per container.
#
#   web        gunicorn (deploy/gunicorn.conf.py; GUNICORN_WORKERS, GUNICORN_THREADS,
#              GUNICORN_TIMEOUT, …) on 0.0.0.0:8000
#   worker     celery worker (CELERY_WORKER_CONCURRENCY, CELERY_WORKER_QUEUES)
#   beat       celery beat with the database scheduler: run exactly ONE
#   migrate    manage.py migrate, then bootstrap_admin when ADMIN_USERNAME/ADMIN_PASSWORD
#              are set (idempotent; a one-shot job before web/worker/beat start)
#   backup     deploy/backup.sh /backups (image target "backup": has mysqldump)
#   restore    deploy/restore.sh DIR
#   manage …   any manage.py command, e.g. `manage createsuperuser`
#   anything else is executed as given (e.g. `sh`).
#
# ITASSETS_APP_DIR (default /app) lets deploy/smoke.sh run this same script from a checkout.
set -eu

APP_DIR="${ITASSETS_APP_DIR:-/app}"
cd "$APP_DIR"
role="${1:-web}"
[ $# -gt 0 ] && shift

case "$role" in
    web)
        # Prometheus client in multiprocess mode: every gunicorn worker writes its samples to
        # this directory and /metrics adds them up (deploy/gunicorn.conf.py empties it at start
        # and marks dead workers). Must be set before Python starts, hence here.
        export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        exec gunicorn --config "$APP_DIR/deploy/gunicorn.conf.py" "$@" itassets.wsgi:application
        ;;
    worker)
        exec celery --app itassets worker \
            --loglevel "${CELERY_LOG_LEVEL:-INFO}" \
            --concurrency "${CELERY_WORKER_CONCURRENCY:-2}" \
            --queues "${CELERY_WORKER_QUEUES:-celery}" \
            --max-tasks-per-child "${CELERY_MAX_TASKS_PER_CHILD:-200}" \
            "$@"
        ;;
    beat)
        # The schedule lives in the database (django-celery-beat); no schedule file is written.
        exec celery --app itassets beat \
            --loglevel "${CELERY_LOG_LEVEL:-INFO}" \
            --scheduler django_celery_beat.schedulers:DatabaseScheduler \
            --pidfile= \
            "$@"
        ;;
    migrate)
        python manage.py migrate --noinput "$@"
        exec python manage.py bootstrap_admin --if-configured
        ;;
    backup)
        [ $# -gt 0 ] || set -- /backups
        exec "$APP_DIR/deploy/backup.sh" "$@"
        ;;
    restore)
        exec "$APP_DIR/deploy/restore.sh" "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
