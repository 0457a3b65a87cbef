"""The service's fast reader of JSON rows (pipeline/inventory/json_rows.py) yields, for any body,
exactly the request pydantic reads from it, or hands the body to pydantic: generated bodies,
plain and hostile (numbers as text of every shape, integers past 64 bits, nesting past pydantic's
recursion limit, brackets inside strings, duplicate keys, other fields wrong)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.inventory import forecast_request as fr
from pipeline.inventory.json_rows import read_rows_request
from pipeline.inventory.service import request_models

LIMITS = fr.RequestLimits(days_after_log=14, max_amount_per_day=1e7, max_experiments_per_day=10000, max_stock=1e9,
                          max_error_rows=100)
Request = request_models(LIMITS)
NUMBER_TEXT = st.one_of(
    st.integers().map(str), st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
SCALAR_TEXT = st.one_of(NUMBER_TEXT, st.text(max_size=12).map(json.dumps), st.sampled_from(
    ["null", "true", "false", '"{"', '"["', '"\\u00e9"', '"\\ud83d\\ude00"', "NaN", "1e400", "[]", "{}",
     "[" * 300 + "]" * 300, '{"a": [1]}']))
ROW_TEXT = st.dictionaries(st.sampled_from(["id", "amount_taken", "unit", " chemical", "CAS", "reason", "x"]),
                           SCALAR_TEXT, max_size=5).map(lambda d: "{" + ",".join(f'"{k}":{v}' for k, v in d.items()) + "}")
STOCK_TEXT = st.sampled_from(['[{"chemical": "Ethanol", "location": "Lab A", "amount": 5}]', "[]", "null", "[5]",
                              '[{"chemical": {}}, 5]', '{"a": 1}', '[{"chemical": "E", "location": "L", "amount": -1}]'])
OTHER_TEXT = st.fixed_dictionaries({}, optional={
    "days": st.one_of(NUMBER_TEXT, st.sampled_from(['"7"', "true", "null", "[]"])),
    "as_of": st.sampled_from(['"2024-03-01"', '"2024-03-01T00:00:00"', "1700000000", '"x"', "null", "19000101"]),
    "stock_on_hand": STOCK_TEXT, "series": st.sampled_from(["null", "[]"]), "rows": st.sampled_from(["[]", "null"])})


def body_text(rows: list[str], other: dict[str, str], rows_first: bool) -> bytes:
    fields = [f'"rows":[{",".join(rows)}]'] + [f'"{k}":{v}' for k, v in other.items()]
    return ("{" + ",".join(fields if rows_first else fields[::-1]) + "}").encode()


def exact(req) -> str:
    return repr(req.model_dump())  # repr: -0.0 and 0.0, 1 and 1.0 told apart


@given(rows=st.lists(ROW_TEXT, max_size=6), other=OTHER_TEXT, rows_first=st.booleans())
def test_fast_reader_gives_pydantics_request_or_none(rows, other, rows_first):
    body = body_text(rows, other, rows_first)
    fast = read_rows_request(Request, body)
    try:
        slow = Request.model_validate_json(body)
    except ValidationError:
        assert fast is None, body
        return
    assert fast is None or exact(fast) == exact(slow), body


def test_plain_log_takes_the_fast_path():
    rows = [{"id": str(i), "amount_taken": "1.5", "unit": "g", "location": "Lab A", "chemical": "Ethanol",
             "CAS": "64-17-5", "reason": "Experiment_1"} for i in range(1, 50)]
    body = json.dumps({"rows": rows, "days": 7, "as_of": "2024-03-01",
                       "stock_on_hand": [{"chemical": "Ethanol", "location": "Lab A", "amount": 3.5}]}).encode()
    fast = read_rows_request(Request, body)
    assert fast is not None and exact(fast) == exact(Request.model_validate_json(body))


@pytest.mark.parametrize("body", [b'{"rows":[{"id":"1"}],"days":0}', b'{"rows":[{"id":[' + b"[" * 300 + b"]" * 301 + b"}]}",
                                  b'{"rows":[{"id":123456789012345678901234567890}]}', b'{"rows":[{"id":NaN}]}',
                                  b'{"rows":[{"id":"1"}],"series":[]}', b"[]"])
def test_anything_unusual_goes_to_pydantic(body):
    assert read_rows_request(Request, body) is None
