"""Durable background jobs: a jobs table as the outbox, in-process or Redis (taskiq) transport, retries."""

from api.jobs.handlers import DeadJob, JobContext, JobError, RetryJob, job_handler
from api.jobs.models import Job, JobOut, JobStatus
from api.jobs.queue import JobQueue

__all__ = [
    "DeadJob",
    "Job",
    "JobContext",
    "JobError",
    "JobOut",
    "JobQueue",
    "JobStatus",
    "RetryJob",
    "job_handler",
]
