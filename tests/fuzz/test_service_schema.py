"""Schemathesis drives the prediction service from its own OpenAPI schema, in-process (ASGI), with
the bearer token: requests that follow the schema and requests that break it (wrong types,
missing fields, out-of-range numbers, odd strings, any CSV text), for every operation. Never a
5xx, never a traceback, no reply that grows with the request. A fixed seed (the `ci` hypothesis
profile) and a case budget per operation and mode keep it to seconds; `--hypothesis-profile=long`
runs thousands."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from pipeline.inventory.service import create_app
from tests.inventory.trained import TOKEN, trained

AUTH = {"authorization": f"Bearer {TOKEN}"}
REPLY_BYTES = 64_000  # a refusal lists at most serve.limits.max_error_rows problems: far below this
OPERATIONS = [("GET", "/health", GenerationMode.POSITIVE),
              *[(method, path, mode) for method, path in (("POST", "/forecast"), ("POST", "/forecast/csv"))
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]]


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    it = trained(tmp_path_factory)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(it.model, it.settings(token=TOKEN)))


@pytest.mark.parametrize("method,path,mode", OPERATIONS, ids=[f"{m} {p} {g.value}" for m, p, g in OPERATIONS])
def test_generated_requests_never_get_a_server_error(schema, method, path, mode):
    strategy = schema[path][method].as_strategy(generation_mode=mode)

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(data=st.data())
    def attack(data):
        case = data.draw(strategy)
        reply = case.call(headers=AUTH)
        assert reply.status_code < 500, (case.body, reply.text[:500])
        assert "Traceback" not in reply.text and len(reply.content) < REPLY_BYTES, reply.text[:500]
        if reply.status_code >= 400:
            assert isinstance(reply.json().get("detail"), str)

    attack()


def test_the_schema_documents_the_token_and_the_limits(schema):
    raw = schema.raw_schema
    request = raw["components"]["schemas"]["StockOnHand"]["properties"]["amount"]
    assert request["minimum"] == 0 and request["maximum"] > 0
    assert "Bearer" in raw["info"]["description"] and raw["security"] == [{"bearer": []}]
    assert raw["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
