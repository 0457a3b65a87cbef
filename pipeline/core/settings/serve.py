"""Schema of conf/serve (option inventory): the inventory prediction service (pipeline/inventory/server.py)."""
from __future__ import annotations

from pipeline.core.settings.schema import Section, Text, number, whole

MAX_BODY_MB = 1000
MAX_WORKERS = 64   # uvicorn worker processes sharing the port (each loads the model)
MAX_THREADS = 64


class Auth(Section):
    token_env: Text                  # the environment variable holding the bearer token
    token_file: Text | None = None   # or a file holding it (chmod 600)
    open: bool                       # serve without a token (loopback only)


class Limits(Section):
    """What one request may ask for (pipeline/inventory/forecast_request.RequestLimits)."""
    days_after_log: whole(0, 365)
    max_amount_per_day: number(gt=0, le=1e12)
    max_experiments_per_day: whole(1, 1_000_000)
    max_stock: number(gt=0, le=1e15)
    max_error_rows: whole(1, 10_000)


class Serve(Section):
    model: Text
    host: Text
    port: whole(1, 65535)
    workers: whole(1, MAX_WORKERS)
    threads: whole(1, MAX_THREADS)
    max_body_mb: number(gt=0, le=MAX_BODY_MB)
    auth: Auth
    limits: Limits
