import pytest

from pipeline.contracts.inventory.cas import cas_problem, check_digit
from pipeline.contracts.inventory.units import to_base, unit_kind


@pytest.mark.parametrize("cas", ["64-17-5", "7647-14-5", "64044-51-5", "50-00-0", "7732-18-5"])
def test_real_cas_numbers_pass(cas):
    assert cas_problem(cas) is None


@pytest.mark.parametrize("cas,code", [("64-17-6", "cas_check_digit"), ("7647-14-4", "cas_check_digit"),
                                      ("64175", "cas_malformed"), ("1-17-5", "cas_malformed"), ("", "cas_missing"),
                                      (None, "cas_missing")])
def test_bad_cas_numbers_say_why(cas, code):
    assert cas_problem(cas).code == code


def test_check_digit_of_water():
    # 7732-18-5: 8*1 + 1*2 + 2*3 + 3*4 + 7*5 + 7*6 = 105 -> 5
    assert check_digit("7732-18") == 5


def test_units_convert_within_kind():
    assert to_base(1.5, "L", "volume") == pytest.approx(1500.0)
    assert to_base(250.0, "mg", "mass") == pytest.approx(0.25)
    assert unit_kind("furlong") is None


def test_across_kind_only_with_density():
    assert to_base(789.0, "g", "volume", 0.789) == pytest.approx(1000.0)
    assert to_base(1.0, "L", "mass", 0.789) == pytest.approx(789.0)
    assert to_base(789.0, "g", "volume", None) is None
