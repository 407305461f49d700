"""Celery tasks of the web import: each fetches the job by id and calls one service."""

from celery import shared_task

from . import jobs


@shared_task(name="itassets.import_job_validate")
def import_job_validate_task(job_id: int) -> str | None:
    job = jobs.import_job_validate(job_id=job_id)
    return job.state if job else None


@shared_task(name="itassets.import_job_run")
def import_job_run_task(job_id: int) -> str | None:
    job = jobs.import_job_run(job_id=job_id)
    return job.state if job else None
