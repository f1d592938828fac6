"""The worker thread: `jobs` runs chunked jobs, `worker` serves requests, `client` is the GUI's facade."""

from playground.worker.client import WorkerClient
from playground.worker.jobs import Job
from playground.worker.worker import Worker

__all__ = ["Job", "Worker", "WorkerClient"]
