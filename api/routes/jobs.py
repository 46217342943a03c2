"""Background jobs of the caller's tenant (admin): list them by status, retry a dead one."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AdminKey, RuntimeDep
from api.jobs import JobOut, JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut])
def list_jobs(
    runtime: RuntimeDep,
    principal: AdminKey,
    status: JobStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[JobOut]:
    jobs = runtime.jobs.list(tenant=principal.tenant, status=status, limit=limit)
    return [JobOut.model_validate(job, from_attributes=True) for job in jobs]


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, runtime: RuntimeDep, principal: AdminKey) -> JobOut:
    return JobOut.model_validate(
        runtime.jobs.get(tenant=principal.tenant, job_id=job_id), from_attributes=True
    )


@router.post("/{job_id}/retry", response_model=JobOut)
def retry_job(job_id: str, runtime: RuntimeDep, principal: AdminKey) -> JobOut:
    """A dead job runs again from its first attempt; the retry is audited. Any other status is a 409."""
    job = runtime.jobs.retry(tenant=principal.tenant, job_id=job_id, actor=principal.key_id)
    return JobOut.model_validate(job, from_attributes=True)
