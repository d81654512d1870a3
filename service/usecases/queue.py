"""The job queue as the workers see it: the job type, claiming with a lease, and settling jobs.

Stages hand work to each other only through this queue (service/workers/registry.py); the
claim is one `FOR UPDATE SKIP LOCKED` statement with a lease (service/db/queries/jobs.sql).
"""

from __future__ import annotations

from service.db.jobs import (
    Job,
    claim,
    due_lag,
    enqueue_for_case,
    enqueue_for_ref,
    ensure_ref_job,
    finish,
    finish_many,
    heartbeat,
    reschedule,
    reschedule_many,
    retry,
    retry_many,
)

__all__ = [
    "Job",
    "claim",
    "due_lag",
    "enqueue_for_case",
    "enqueue_for_ref",
    "ensure_ref_job",
    "finish",
    "finish_many",
    "heartbeat",
    "reschedule",
    "reschedule_many",
    "retry",
    "retry_many",
]
