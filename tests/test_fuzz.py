"""Fuzzing check, diff and fix (see tests/fuzzing.py for the generators and the invariant).

CI runs a few hundred examples (measured: about a minute on 2 cores); bench/fuzz_long.py
runs the same properties for as long as you like.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings

from fuzzing import asyncio_programs, assert_invariants, hypothesmith_programs, program_is_valid, with_snippet

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # generated code: "perhaps you missed a comma?"

COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@settings(max_examples=150, **COMMON)
@given(hypothesmith_programs())
def test_hypothesmith_programs(case):
    program, snippet = case
    text = with_snippet(program, snippet)
    assume(program_is_valid(text))
    assert_invariants(text)


@settings(max_examples=250, **COMMON)
@given(asyncio_programs())
def test_asyncio_shaped_programs(case):
    text, data = case
    assume(program_is_valid(text))
    assert_invariants(text, data)
