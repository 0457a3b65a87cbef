"""HTTP prediction service of the registered inventory forecaster (FastAPI; started by server.py).

POST /forecast        JSON: {"rows": [raw log rows]} or {"series": [daily rows]}, optional
                      "days", "as_of", "stock_on_hand"
POST /forecast/csv    the raw log as CSV (id,amount_taken,unit,location,chemical,CAS,reason);
                      ?days=&as_of= as query parameters
GET  /health          which registered model and version answers; the API at /docs

Every door is bounded (guards.py, forecast_request.RequestLimits): a bearer token before
anything is read, a body limit counted as bytes arrive, numbers within physical limits (the
request schema carries them, so /docs shows them), `as_of` near the log. A refusal names the
field or the row, column and reason, and never repeats the body: FastAPI's own 422 echoes the
input, so it is replaced by one that lists where and why only. The work of a request (parsing
included) runs on a bounded pool of `threads`, so the event loop stays free and at most that
many requests hold their working memory at once per worker.

Why FastAPI rather than `mlflow models serve`: the answer is a reorder decision per chemical
and lab, and the question is a lab's own log file; a domain-shaped API takes the CSV as it
is, names the failing row, column and reason in a 422, serves OpenAPI docs, and adds no
dependency (MLflow already installs FastAPI and uvicorn). The model itself stays the
registered ONNX version.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import anyio
import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic.json_schema import models_json_schema

from pipeline.inventory import forecast_request as fr
from pipeline.inventory.forecaster import ServedUsageForecaster
from pipeline.inventory.guards import BearerToken, BodyLimit
from pipeline.inventory.json_rows import read_rows_request

JSON_TYPES = ("application/json",)
LOC_CHARS = 60  # a field name from the request is cut here in an error's location


@dataclass(frozen=True)
class ServiceSettings:
    """What conf/serve/inventory.yaml says about one app (server.py reads it)."""
    max_body_bytes: int
    threads: int                  # requests computed at once (a bounded pool); the rest wait
    limits: fr.RequestLimits
    token: str | None             # None: open (server.py allows that on loopback only)

    @classmethod
    def from_config(cls, serve: Mapping, token: str | None) -> "ServiceSettings":
        """From conf/serve/inventory.yaml (serve.*) and the token server.py read."""
        return cls(int(float(serve["max_body_mb"]) * 1e6), int(serve["threads"]),
                   fr.RequestLimits.from_config(serve["limits"]), token)


def request_models(limits: fr.RequestLimits) -> type[BaseModel]:
    """The request body's schema, its numbers bounded by `limits` (what /docs and schemathesis see)."""

    class DailyRow(BaseModel):
        date: date
        chemical: str
        location: str
        used: float = Field(ge=0, le=limits.max_amount_per_day, allow_inf_nan=False,
                            description="use that day, in the chemical's base unit (g or ml)")
        experiments: int = Field(ge=0, le=limits.max_experiments_per_day,
                                 description="distinct experiments that used it that day")
        purchased: float = Field(0.0, ge=0, le=limits.max_amount_per_day, allow_inf_nan=False,
                                 description="bought that day (base unit)")
        stock: float | None = Field(None, ge=-limits.max_stock, le=limits.max_stock, allow_inf_nan=False,
                                    description="stock at the end of the day (base unit; negative where the log's "
                                                "withdrawals exceed its purchases)")

    class StockOnHand(BaseModel):
        chemical: str
        location: str
        amount: float = Field(ge=0, le=limits.max_stock, allow_inf_nan=False,
                              description="stock now, in the chemical's base unit")

    class ForecastRequest(BaseModel):
        rows: list[dict[str, Any]] | None = Field(
            None, description="raw log rows: id,amount_taken,unit,location,chemical,CAS,reason")
        series: list[DailyRow] | None = Field(None, description="a daily series instead of raw rows")
        days: int | None = Field(None, ge=1, description="days to forecast, at most the model's horizon "
                                                         "(default: the model's reorder.default_days)")
        as_of: date | None = Field(None, description="the log's last day (default: its last row's day; at most "
                                                     f"{limits.days_after_log} days after it); raw rows only")
        stock_on_hand: list[StockOnHand] | None = Field(None, description="overrides the stock the log implies")

        @model_validator(mode="after")
        def one_input(self) -> "ForecastRequest":
            if (self.rows is None) == (self.series is None):
                raise ValueError("give exactly one of 'rows' (raw log) or 'series' (daily usage)")
            if self.as_of is not None and self.series is not None:
                raise ValueError("as_of applies to raw rows; a series ends on its last date")
            return self

    return ForecastRequest


def _where(loc: tuple) -> list:
    return [p if isinstance(p, int) else (str(p) if len(str(p)) <= LOC_CHARS else f"{str(p)[:LOC_CHARS]}...")
            for p in loc]


def schema_errors(errors: list[dict], limits: fr.RequestLimits, prefix: tuple = ()) -> JSONResponse:
    """A 422 that says where and why, never what was sent (pydantic's `input` and `ctx` are left out)."""
    listed = [{"loc": _where((*prefix, *e["loc"])), "msg": e["msg"], "type": e["type"]}
              for e in errors[:limits.max_error_rows]]
    shown = "all" if len(listed) == len(errors) else f"the first {len(listed)}"
    return JSONResponse({"detail": f"request does not match the API schema: {len(errors)} problem(s), {shown} listed "
                                   "(/docs)", "errors": listed}, 422)


def _refusal(exc: fr.RequestError) -> JSONResponse:
    body: dict = {"detail": str(exc)}
    if exc.rows:
        body |= {"rows": exc.rows, "counts": exc.counts}
    return JSONResponse(body, status_code=exc.status)


def _openapi(app: FastAPI, request_model: type[BaseModel], token: bool) -> None:
    """/forecast reads its body itself (parsed on the pool, not on the event loop): put its schema
    into the OpenAPI document by hand; and the bearer token, so /docs offers "Authorize"."""
    _, top = models_json_schema([(request_model, "validation")], ref_template="#/components/schemas/{model}")
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            components = generate().setdefault("components", {})
            components.setdefault("schemas", {}).update(top["$defs"])
            if token:
                components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
                app.openapi_schema["security"] = [{"bearer": []}]
        return app.openapi_schema

    app.openapi = openapi


def create_app(model: ServedUsageForecaster, settings: ServiceSettings) -> FastAPI:
    limits = settings.limits
    ForecastRequest = request_models(limits)  # noqa: N806 (a class)
    pool = anyio.CapacityLimiter(settings.threads)
    app = FastAPI(title="Inventory forecaster", version=str(model.version),
                  description=f"{model.name} version {model.version}: usage forecast and reorder advice. "
                              + ("Every call but /docs and /openapi.json needs `Authorization: Bearer <token>`."
                                 if settings.token else "Served open (no token), on loopback only."))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.token:
        app.add_middleware(BearerToken, token=settings.token)  # added last: runs first, before the body is read

    async def on_pool(work: Callable[[], Any]) -> JSONResponse:
        def answer() -> JSONResponse:
            try:
                done = work()
            except fr.RequestError as exc:
                return _refusal(exc)
            # plain JSON types already: rendered here, on the pool, not walked again by FastAPI's encoder
            return done if isinstance(done, JSONResponse) else JSONResponse(done)
        return await anyio.to_thread.run_sync(answer, limiter=pool)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return schema_errors(list(exc.errors()), limits)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": model.name, "version": model.version, "uri": model.uri,
                "horizon_days": model.horizon, "min_history_days": fr.min_history_days(model),
                "chemicals": model.chemicals, "locations": model.locations}

    @app.post("/forecast", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ForecastRequest"}}}}})
    async def forecast(request: Request):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in JSON_TYPES:
            return JSONResponse({"detail": f"/forecast takes application/json (got {kind[:LOC_CHARS] or 'none'}); "
                                           "a CSV log goes to /forecast/csv"}, 415)
        body = await request.body()

        def work():
            try:
                req = read_rows_request(ForecastRequest, body) or ForecastRequest.model_validate_json(body)
            except ValidationError as exc:
                return schema_errors(exc.errors(include_input=False, include_context=False), limits, ("body",))
            if req.rows is not None:
                daily = fr.daily_from_log(model, fr.raw_frame(req.rows), req.as_of, limits)
            else:
                daily = fr.daily_from_series(model, pd.DataFrame([r.model_dump() for r in req.series]))
            stock = {(s.chemical, s.location): s.amount for s in req.stock_on_hand or []}
            return fr.forecast(model, daily, req.days, stock)

        return await on_pool(work)

    @app.post("/forecast/csv", openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}}}}})
    async def forecast_csv(request: Request, days: int | None = Query(None, ge=1), as_of: date | None = None):
        body = await request.body()
        return await on_pool(lambda: fr.forecast(model, fr.daily_from_log(model, fr.csv_frame(body), as_of, limits),
                                                 days))

    _openapi(app, ForecastRequest, bool(settings.token))
    return app
