"""The local engine answers what Athena answers (value and Trino type), or refuses by name.

The cases (``conformance_cases.py``) come from the Trino and Athena documentation, not from running
the engine. They only read the catalog, so they share one lake (built once for the module).
"""

from __future__ import annotations

import math
import re

import pytest

from local_aws.athena import LocalAthena, LocalQueryError, UnsupportedSqlError
from test_local_aws.test_athena.conformance_cases import CASES, F, Q, R, V
from test_local_aws.test_athena.lake import Lake

STATEMENT = re.compile(
    r"^\s*(SELECT|WITH|VALUES|CREATE|UPDATE|DELETE|EXPLAIN|INSERT|DROP|ALTER)\b", re.IGNORECASE
)


def _statement(sql: str) -> str:
    return sql if STATEMENT.match(sql) else f"SELECT {sql}"


def _same(actual: object, expected: object) -> bool:
    """Equal values, and of the same Python kind (3 is not 3.0, True is not 1); doubles to 1e-12."""
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, tuple):
        return (
            isinstance(actual, tuple)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if expected is None or actual is None:
        return actual is expected
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-15)
    if hasattr(expected, "tzinfo") and (actual.tzinfo is None) != (expected.tzinfo is None):
        return False
    return actual == expected


def _case_id(case: V | Q | R | F) -> str:
    return f"{type(case).__name__}:{case.sql}{getattr(case, 'source', '')}"[:120]


def test_the_suite_is_broad() -> None:
    """At least 250 documented cases, each naming the page it comes from."""
    assert len(CASES) >= 250
    assert all(
        c.doc.startswith(("https://trino.io/docs/", "https://docs.aws.amazon.com/athena/")) for c in CASES
    )
    assert len({_case_id(c) for c in CASES}) == len(CASES), "duplicate cases"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_conformance(shared_lake: Lake, session_athena: LocalAthena, case: V | Q | R | F) -> None:
    database = shared_lake.database
    if isinstance(case, V):
        checks_type = "varchar" not in case.type
        columns = f"{case.sql}, typeof({case.sql})" if checks_type else case.sql
        row = session_athena.execute(f"SELECT {columns}{case.source}", database).rows[0]
        assert _same(row[0], case.value), f"{case.sql} = {row[0]!r}, Athena: {case.value!r} ({case.doc})"
        if checks_type:
            assert row[1] == case.type, f"typeof({case.sql}) = {row[1]!r}, Athena: {case.type!r}"
        else:
            assert case.value is None or isinstance(case.value, list) or isinstance(row[0], str)
    elif isinstance(case, Q):
        rows = session_athena.execute(case.sql, database).rows
        assert len(rows) == len(case.rows) and all(
            _same(tuple(a), e) for a, e in zip(rows, case.rows, strict=True)
        ), f"{case.sql} gave {rows}, Athena: {case.rows} ({case.doc})"
    elif isinstance(case, R):
        with pytest.raises(UnsupportedSqlError) as refused:
            session_athena.execute(_statement(case.sql), database)
        assert case.construct.lower() in str(refused.value).lower()
        assert "not supported by the local Athena engine" in str(refused.value)
    else:
        with pytest.raises(LocalQueryError) as failed:
            session_athena.execute(_statement(case.sql), database)
        assert not isinstance(failed.value, UnsupportedSqlError), (
            f"refused instead of failing: {failed.value}"
        )
        assert case.message in failed.value.reason
