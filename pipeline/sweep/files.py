"""What a sweep folder holds, named once for the jobs that write it and the process that reads it:
each job's marker beside the optimiser's outputs, the summary folder and the parent-run record."""
from __future__ import annotations

MARKER = "sweep_job.json"  # per job folder: status and overrides, written by the job
SUMMARY_DIR = "summary"
PARENT_FILE = "mlflow_parent.json"
