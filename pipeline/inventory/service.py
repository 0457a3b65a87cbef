"""HTTP prediction service of the registered inventory forecaster (FastAPI on uvicorn).

    python -m pipeline.inventory serve            # models:/<name>@champion on http://127.0.0.1:8000

POST /forecast        JSON: {"rows": [raw log rows]} or {"series": [daily rows]}, optional
                      "days", "as_of", "stock_on_hand"
POST /forecast/csv    the raw log as text/csv (id,amount_taken,unit,location,chemical,CAS,reason);
                      ?days=&as_of= as query parameters
GET  /health          which registered model and version answers; interactive docs at /docs

Why FastAPI rather than `mlflow models serve`: the answer is a reorder decision per chemical
and lab, and the question is a lab's own log file; a domain-shaped API takes the CSV as it
is, names the failing row, column and reason in a 422, serves OpenAPI docs, and adds no
dependency (MLflow already installs FastAPI and uvicorn). The model itself stays the
registered ONNX version: the service loads `models:/<name>@champion` once at start.
"""
from __future__ import annotations

import gc
from datetime import date
from typing import Any

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.inventory import forecast_request as fr
from pipeline.inventory.forecaster import ServedUsageForecaster


class DailyRow(BaseModel):
    date: date
    chemical: str
    location: str
    used: float = Field(ge=0, allow_inf_nan=False, description="use that day, in the chemical's base unit (g or ml)")
    experiments: int = Field(ge=0, description="distinct experiments that used it that day")
    purchased: float = Field(0.0, ge=0, allow_inf_nan=False, description="bought that day (base unit)")
    stock: float | None = Field(None, allow_inf_nan=False, description="stock at the end of the day (base unit)")


class StockOnHand(BaseModel):
    chemical: str
    location: str
    amount: float = Field(allow_inf_nan=False, description="stock now, in the chemical's base unit")


class ForecastRequest(BaseModel):
    rows: list[dict[str, Any]] | None = Field(None, description="raw log rows: id,amount_taken,unit,location,chemical,CAS,reason")
    series: list[DailyRow] | None = Field(None, description="a daily series instead of raw rows")
    days: int | None = Field(None, ge=1, description="days to forecast (default: the model's reorder.default_days)")
    as_of: date | None = Field(None, description="the log's last day (default: its last row's day); raw rows only")
    stock_on_hand: list[StockOnHand] | None = Field(None, description="overrides the stock the log implies")

    @model_validator(mode="after")
    def one_input(self) -> "ForecastRequest":
        if (self.rows is None) == (self.series is None):
            raise ValueError("give exactly one of 'rows' (raw log) or 'series' (daily usage)")
        return self


def _error(exc: fr.RequestError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "rows": exc.rows}, status_code=exc.status)


class BodyLimit:
    """Refuses a request whose declared body is over `max_bytes` with 413, before reading it
    (a plain ASGI middleware: starlette's BaseHTTPMiddleware costs every request a task)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = dict(scope["headers"]).get(b"content-length")
            if size is not None and size.isdigit() and int(size) > self.max_bytes:
                reply = JSONResponse({"detail": f"request body over {self.max_bytes} bytes (serve.max_body_mb)"}, 413)
                await reply(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(model: ServedUsageForecaster, max_body_bytes: int) -> FastAPI:
    app = FastAPI(title="Inventory forecaster", version=str(model.version),
                  description=f"{model.name} version {model.version}: usage forecast and reorder advice")
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": model.name, "version": model.version, "uri": model.uri,
                "horizon_days": model.horizon, "min_history_days": fr.min_history_days(model),
                "chemicals": model.chemicals, "locations": model.locations}

    @app.post("/forecast")
    def forecast(req: ForecastRequest):
        try:
            if req.rows is not None:
                daily = fr.daily_from_log(model, fr.raw_frame(req.rows), req.as_of)
            else:
                if req.as_of is not None:
                    raise fr.RequestError("as_of applies to raw rows; a series ends on its last date")
                daily = fr.daily_from_series(model, pd.DataFrame([r.model_dump() for r in req.series]))
            stock = {(s.chemical, s.location): s.amount for s in req.stock_on_hand or []}
            return fr.forecast(model, daily, req.days, stock)
        except fr.RequestError as exc:
            return _error(exc)

    @app.post("/forecast/csv")
    async def forecast_csv(request: Request, days: int | None = Query(None, ge=1), as_of: date | None = None):
        body = await request.body()

        def answer():
            try:
                return fr.forecast(model, fr.daily_from_log(model, fr.csv_frame(body), as_of), days)
            except fr.RequestError as exc:
                return _error(exc)

        return await run_in_threadpool(answer)  # as FastAPI runs the plain `def` endpoint: the loop stays free

    return app


def serve(model_uri: str, host: str, port: int, max_body_mb: float) -> None:
    import uvicorn

    model = ServedUsageForecaster.load(model_uri)
    gc.collect()
    gc.freeze()  # what start-up loaded (MLflow, onnxruntime, pandas) stays out of every later collection
    print(f"serving {model.name} version {model.version} ({model_uri}) on http://{host}:{port} (docs: /docs)",
          flush=True)
    uvicorn.run(create_app(model, int(max_body_mb * 1e6)), host=host, port=port, log_level="warning")
