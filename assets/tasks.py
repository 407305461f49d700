"""Celery tasks of the assets app: each fetches by id and calls one service."""

from celery import shared_task


@shared_task(name="assets.asset_export")
def asset_export_task(job_id: int) -> str | None:
    from .exports import asset_export_job_run

    job = asset_export_job_run(job_id=job_id)
    return job.state if job else None
