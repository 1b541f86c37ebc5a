"""Athena (engine v3, Trino) conformance cases for the local engine, written from the documentation.

Each case is what the documentation page it names says a query answers (value and Trino type), or
what Athena refuses. Four kinds:

- ``V(expr, value, type, doc, source="")``: ``SELECT expr [source]`` answers ``value`` of Trino type
  ``type``. The type is checked with ``typeof(expr)`` through the engine, except character strings
  (Trino names them ``varchar(n)`` with a length the local engine does not track: their value must be
  a ``str``).
- ``Q(sql, rows, doc)``: the query answers exactly these rows, in this order.
- ``R(sql, construct, doc)``: the local engine refuses it (UnsupportedSqlError naming ``construct``),
  because it cannot give Athena's answer; never a different value.
- ``F(sql, message, doc)``: Athena fails the query (type error, invalid cast, subscript out of
  range...); the local engine fails it too, with ``message`` in the reason.

A ``sql`` that does not start with a statement keyword is an expression (``SELECT`` is prepended).

The file is longer than the project's ~600 lines on purpose: it is one table of cases (data, one or
two lines a case), grouped by documentation page; splitting it would only scatter the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

TRINO = "https://trino.io/docs/current"
MATH = f"{TRINO}/functions/math.html"
DECIMAL = f"{TRINO}/functions/decimal.html"
STRING = f"{TRINO}/functions/string.html"
REGEXP = f"{TRINO}/functions/regexp.html"
DATETIME = f"{TRINO}/functions/datetime.html"
CONVERSION = f"{TRINO}/functions/conversion.html"
CONDITIONAL = f"{TRINO}/functions/conditional.html"
COMPARISON = f"{TRINO}/functions/comparison.html"
LOGICAL = f"{TRINO}/functions/logical.html"
ARRAY = f"{TRINO}/functions/array.html"
AGGREGATE = f"{TRINO}/functions/aggregate.html"
WINDOW = f"{TRINO}/functions/window.html"
JSON = f"{TRINO}/functions/json.html"
URL = f"{TRINO}/functions/url.html"
MAP = f"{TRINO}/functions/map.html"
TYPES = f"{TRINO}/language/types.html"
SELECT = f"{TRINO}/sql/select.html"
VALUES_DOC = f"{TRINO}/sql/values.html"
ATHENA = "https://docs.aws.amazon.com/athena/latest/ug"
ATHENA_TYPES = f"{ATHENA}/data-types.html"
ATHENA_CTAS = f"{ATHENA}/create-table-as.html"
ATHENA_UNSUPPORTED = f"{ATHENA}/other-notable-limitations.html"
ATHENA_V3 = f"{ATHENA}/engine-versions-reference-0003.html"


@dataclass(frozen=True)
class V:
    """An expression and the value and Trino type Athena answers."""

    sql: str
    value: Any
    type: str
    doc: str
    source: str = ""


@dataclass(frozen=True)
class Q:
    """A query and the rows Athena answers, in order."""

    sql: str
    rows: list[tuple]
    doc: str


@dataclass(frozen=True)
class R:
    """A construct the local engine refuses by name (it cannot give Athena's answer)."""

    sql: str
    construct: str
    doc: str


@dataclass(frozen=True)
class F:
    """A query Athena fails; the local engine fails it too, with ``message`` in the reason."""

    sql: str
    message: str
    doc: str


D = Decimal
T3 = "timestamp(3)"
TZ3 = "timestamp(3) with time zone"
NUMS = " FROM (VALUES 1, 2, 3, 4, 5) AS t(x)"
NULLS = " FROM (VALUES 1, 2, NULL) AS t(x)"
DECS = " FROM (VALUES DECIMAL '1.0', DECIMAL '2.5') AS t(x)"
GROUPS = " FROM (VALUES ('a', 1), ('a', 2), ('b', 5), ('b', 5), ('c', 9)) AS t(g, x)"

CASES: list[V | Q | R | F] = [
    # ---- mathematical functions and operators
    V("abs(-5)", 5, "integer", MATH),
    V("abs(DECIMAL '-1.50')", D("1.50"), "decimal(3,2)", MATH),
    V("abs(-2.5e0)", 2.5, "double", MATH),
    V("cbrt(27.0e0)", 3.0, "double", MATH),
    V("ceil(5)", 5, "integer", MATH),
    V("ceiling(-1.5e0)", -1.0, "double", MATH),
    V("ceil(DECIMAL '1.2')", D("2"), "decimal(2,0)", MATH),
    V("floor(1.7e0)", 1.0, "double", MATH),
    V("floor(DECIMAL '-1.2')", D("-2"), "decimal(2,0)", MATH),
    V("degrees(pi())", 180.0, "double", MATH),
    V("e()", 2.718281828459045, "double", MATH),
    V("exp(0)", 1.0, "double", MATH),
    V("ln(1)", 0.0, "double", MATH),
    V("log2(8)", 3.0, "double", MATH),
    V("log10(1000)", 3.0, "double", MATH),
    V("mod(-7, 3)", -1, "integer", MATH),
    V("mod(7, -3)", 1, "integer", MATH),
    V("-7 % 3", -1, "integer", MATH),
    V("10 % 3", 1, "integer", MATH),
    V("mod(DECIMAL '7.5', 2)", D("1.5"), "decimal(2,1)", MATH),
    V("pi()", 3.141592653589793, "double", MATH),
    V("power(2, 10)", 1024.0, "double", MATH),
    V("pow(2.0e0, 3)", 8.0, "double", MATH),
    V("radians(180)", 3.141592653589793, "double", MATH),
    V("round(2.5e0)", 3.0, "double", MATH),
    V("round(-2.5e0)", -3.0, "double", MATH),
    V("round(1.2345e0, 2)", 1.23, "double", MATH),
    V("round(5)", 5, "integer", MATH),
    V("round(DECIMAL '2.5')", D("3"), "decimal(2,0)", MATH),
    V("round(DECIMAL '-2.5')", D("-3"), "decimal(2,0)", MATH),
    V("round(DECIMAL '123.456', 1)", D("123.500"), "decimal(7,3)", MATH),
    V("round(DECIMAL '2.456', 2)", D("2.460"), "decimal(5,3)", MATH),
    V("sign(-3)", -1, "integer", MATH),
    V("sign(2.5e0)", 1.0, "double", MATH),
    V("sqrt(16)", 4.0, "double", MATH),
    V("truncate(-2.7e0)", -2.0, "double", MATH),
    V("is_nan(nan())", True, "boolean", MATH),
    V("is_infinite(infinity())", True, "boolean", MATH),
    V("is_finite(1.0e0)", True, "boolean", MATH),
    V("greatest(1, 5, 3)", 5, "integer", MATH),
    V("least(4, 2, 8)", 2, "integer", MATH),
    V("greatest(1, 2.5e0)", 2.5, "double", MATH),
    V("greatest(1, NULL)", None, "integer", COMPARISON),
    V("least(NULL, 2)", None, "integer", COMPARISON),
    R("width_bucket(5.35e0, 0.024e0, 10.06e0, 5)", "width_bucket", MATH),
    R("from_base('ff', 16)", "from_base", MATH),
    R("to_base(255, 16)", "to_base", MATH),
    R(
        "cosine_similarity(MAP(ARRAY['a'], ARRAY[1.0e0]), MAP(ARRAY['a'], ARRAY[2.0e0]))",
        "cosine_similarity",
        MATH,
    ),
    R("wilson_interval_lower(1, 5, 1.96e0)", "wilson_interval_lower", MATH),
    # ---- integer and decimal arithmetic
    V("5 / 2", 2, "integer", MATH),
    V("-5 / 2", -2, "integer", MATH),
    V("7 / 2e0", 3.5, "double", MATH),
    V("5 / 2.0", D("2.5"), "decimal(12,1)", DECIMAL),
    V("3000000000 + 1", 3000000001, "bigint", MATH),
    V("DECIMAL '1.10' + DECIMAL '2.205'", D("3.305"), "decimal(5,3)", DECIMAL),
    V("DECIMAL '1.5' * DECIMAL '2.25'", D("3.375"), "decimal(5,3)", DECIMAL),
    V("DECIMAL '10' / DECIMAL '4'", D("3"), "decimal(2,0)", DECIMAL),
    V("DECIMAL '1' / DECIMAL '3.00'", D("0.33"), "decimal(5,2)", DECIMAL),
    V("DECIMAL '2.00' / DECIMAL '3'", D("0.67"), "decimal(3,2)", DECIMAL),
    V("DECIMAL '5.5' - DECIMAL '0.25'", D("5.25"), "decimal(4,2)", DECIMAL),
    V("1.5 + 1", D("2.5"), "decimal(12,1)", DECIMAL),
    V("typeof(DECIMAL '1.50')", "decimal(3,2)", "varchar", DECIMAL),
    V("CAST(1 AS decimal(5,2))", D("1.00"), "decimal(5,2)", DECIMAL),
    V("CAST(DECIMAL '2.345' AS decimal(3,2))", D("2.35"), "decimal(3,2)", DECIMAL),
    V("CAST(2.5e0 AS decimal(2,0))", D("3"), "decimal(2,0)", DECIMAL),
    V("CAST(-2.5e0 AS decimal(2,0))", D("-3"), "decimal(2,0)", DECIMAL),
    V("CAST(1 AS decimal)", D("1"), "decimal(38,0)", DECIMAL),
    F("1 / 0", "Division by zero", MATH),
    F("DECIMAL '1.0' / DECIMAL '0'", "Division by zero", DECIMAL),
    # ---- conversions
    V("CAST(DOUBLE '2.5' AS integer)", 3, "integer", CONVERSION),
    V("CAST(3.5e0 AS bigint)", 4, "bigint", CONVERSION),
    V("CAST(-2.5e0 AS integer)", -3, "integer", CONVERSION),
    V("CAST(REAL '2.5' AS integer)", 3, "integer", CONVERSION),
    V("CAST(1.4e0 AS smallint)", 1, "smallint", CONVERSION),
    V("CAST(DECIMAL '2.5' AS integer)", 3, "integer", CONVERSION),
    V("CAST(DECIMAL '-2.5' AS integer)", -3, "integer", CONVERSION),
    V("CAST(avg(x) AS integer)", 3, "integer", CONVERSION, " FROM (VALUES 2, 3) AS t(x)"),
    V("CAST('12' AS integer)", 12, "integer", CONVERSION),
    V("CAST('12' AS bigint)", 12, "bigint", CONVERSION),
    V("CAST(12 AS varchar)", "12", "varchar", CONVERSION),
    V("CAST(DECIMAL '1.50' AS varchar)", "1.50", "varchar", CONVERSION),
    V("CAST(true AS varchar)", "true", "varchar", CONVERSION),
    V("CAST(DATE '2020-01-05' AS varchar)", "2020-01-05", "varchar", CONVERSION),
    V("CAST('2020-01-05' AS date)", date(2020, 1, 5), "date", CONVERSION),
    V("CAST('true' AS boolean)", True, "boolean", CONVERSION),
    V("CAST(1 AS boolean)", True, "boolean", CONVERSION),
    V("CAST(TIMESTAMP '2020-01-05 10:11:12.345' AS date)", date(2020, 1, 5), "date", CONVERSION),
    V("CAST(DATE '2020-01-05' AS timestamp)", datetime(2020, 1, 5), T3, CONVERSION),
    V(
        "CAST('2020-01-05 10:11:12.345' AS timestamp)",
        datetime(2020, 1, 5, 10, 11, 12, 345000),
        T3,
        CONVERSION,
    ),
    V("try_cast('abc' AS integer)", None, "integer", CONVERSION),
    V("try_cast('42' AS integer)", 42, "integer", CONVERSION),
    V("CAST(NULL AS bigint)", None, "bigint", CONVERSION),
    F("CAST('abc' AS integer)", "abc", CONVERSION),
    F("CAST('1.5' AS integer)", "Cannot cast '1.5' to INTEGER", CONVERSION),
    V("try_cast('1.5' AS integer)", None, "integer", CONVERSION),
    F("CAST('2020-01-05 10:00' AS date)", "Cannot cast '2020-01-05 10:00' to DATE", CONVERSION),
    F(
        "SELECT CAST(x AS bigint) FROM (VALUES '7', '7.5') AS t(x)",
        "Cannot cast '7.5' to BIGINT",
        CONVERSION,
    ),
    F("CAST(300 AS tinyint)", "300", CONVERSION),
    F("CAST(2147483648 AS integer)", "2147483648", CONVERSION),
    R("CAST(1.5e0 AS varchar)", "CAST(double AS varchar)", CONVERSION),
    R("CAST(REAL '1.5' AS varchar)", "CAST(real AS varchar)", CONVERSION),
    R("format('%.2f', 3.14159e0)", "format() conversion", CONVERSION),
    V("format('%03d', 8)", "008", "varchar", CONVERSION),
    V("format('%05d', 42)", "00042", "varchar", CONVERSION),
    V("format('%d items', 5)", "5 items", "varchar", CONVERSION),
    V("format('%x', 255)", "ff", "varchar", CONVERSION),
    V("format('%s and %s', 'a', 'b')", "a and b", "varchar", CONVERSION),
    # ---- types (typeof names)
    V("typeof(1)", "integer", "varchar", TYPES),
    V("typeof(3000000000)", "bigint", "varchar", TYPES),
    V("typeof(1.5)", "decimal(2,1)", "varchar", TYPES),
    V("typeof(1e0)", "double", "varchar", TYPES),
    V("typeof(REAL '1.5')", "real", "varchar", TYPES),
    V("typeof(true)", "boolean", "varchar", TYPES),
    V("typeof(DATE '2020-01-01')", "date", "varchar", TYPES),
    V("typeof(TIMESTAMP '2020-01-01 10:00:00.000')", T3, "varchar", TYPES),
    V("typeof(ARRAY[1, 2])", "array(integer)", "varchar", TYPES),
    V("typeof(ARRAY[1e0])", "array(double)", "varchar", TYPES),
    V("typeof('abc')", "varchar(3)", "varchar", TYPES),
    V("typeof(CAST('abc' AS varchar))", "varchar", "varchar", TYPES),
    V("typeof(NULL)", "unknown", "varchar", TYPES),
    V("typeof(CAST(NULL AS bigint))", "bigint", "varchar", TYPES),
    V("typeof(SMALLINT '1')", "smallint", "varchar", TYPES),
    V("typeof(sum(x))", "bigint", "varchar", AGGREGATE, NUMS),
    V("typeof(count(*))", "bigint", "varchar", AGGREGATE, NUMS),
    V("typeof(avg(x))", "double", "varchar", AGGREGATE, NUMS),
    R("typeof(upper('abc'))", "typeof() of a computed character string", TYPES),
    # ---- coercion rules: Athena has no implicit conversion from varchar
    F("'1' = 1", "Cannot apply operator: varchar(1) = integer", COMPARISON),
    F("1 = '1'", "Cannot apply operator: integer = varchar(1)", COMPARISON),
    F("'order-' || 1", "'||' cannot be applied to varchar(6), integer", STRING),
    F("concat('a', 1)", "Unexpected parameters (varchar(1), integer) for function concat", STRING),
    F("'a' + 1", "Cannot apply operator: varchar(1) + integer", MATH),
    F("DATE '2020-01-01' = '2020-01-01'", "Cannot apply operator: date = varchar(10)", COMPARISON),
    F("'2020-01-05' BETWEEN DATE '2020-01-01' AND DATE '2020-01-31'", "is BETWEEN date and date", COMPARISON),
    F("1 IN ('1', '2')", "IN value and list items must be the same type", COMPARISON),
    F("SELECT quantity = '3' FROM orders_cdc", "Cannot apply operator: integer = varchar(1)", COMPARISON),
    F(
        "SELECT order_id FROM orders_cdc WHERE quantity > '3'",
        "Cannot apply operator: integer > varchar(1)",
        COMPARISON,
    ),
    F("true = 1", "Cannot apply operator: boolean = integer", COMPARISON),
    F("DATE '2020-01-01' + 1", "Cannot apply operator: date + integer", DATETIME),
    F("CASE WHEN true THEN 1 ELSE 'a' END", "All CASE results must be the same type", CONDITIONAL),
    F("coalesce(1, 'a')", "All COALESCE results must be the same type", CONDITIONAL),
    F("if(true, 1, 'a')", "All IF results must be the same type", CONDITIONAL),
    F(
        "SELECT 1 AS x UNION ALL SELECT 'a'",
        "column 1 in UNION query has incompatible types: integer, varchar(1)",
        SELECT,
    ),
    R("DATE '2020-01-02' - DATE '2020-01-01'", "date - date", DATETIME),
    V("1 = 1.0", True, "boolean", COMPARISON),
    V("1 = 1e0", True, "boolean", COMPARISON),
    V("DATE '2020-01-01' < TIMESTAMP '2020-01-01 10:00:00.000'", True, "boolean", COMPARISON),
    # ---- comparison and logical operators
    V("1 <> 2", True, "boolean", COMPARISON),
    V("NULL = NULL", None, "boolean", COMPARISON),
    V("1 IS DISTINCT FROM NULL", True, "boolean", COMPARISON),
    V("NULL IS NOT DISTINCT FROM NULL", True, "boolean", COMPARISON),
    V("3 BETWEEN 2 AND 6", True, "boolean", COMPARISON),
    V("3 NOT BETWEEN 2 AND 6", False, "boolean", COMPARISON),
    V("'abc' LIKE 'a%'", True, "boolean", COMPARISON),
    V("'a_c' LIKE 'a\\_c' ESCAPE '\\'", True, "boolean", COMPARISON),
    V("'abc' LIKE 'A%'", False, "boolean", COMPARISON),
    V("1 IN (1, 2)", True, "boolean", COMPARISON),
    V("3 IN (1, NULL)", None, "boolean", COMPARISON),
    V("'a' < 'b'", True, "boolean", COMPARISON),
    V("ARRAY[1, 2] = ARRAY[1, 2]", True, "boolean", COMPARISON),
    V("true AND NULL", None, "boolean", LOGICAL),
    V("false AND NULL", False, "boolean", LOGICAL),
    V("true OR NULL", True, "boolean", LOGICAL),
    V("NOT CAST(NULL AS boolean)", None, "boolean", LOGICAL),
    V("NULL IS NULL", True, "boolean", COMPARISON),
    # ---- conditional expressions
    V("coalesce(NULL, 2, 3)", 2, "integer", CONDITIONAL),
    V("coalesce(NULL, 'a')", "a", "varchar(1)", CONDITIONAL),
    V("nullif(1, 1)", None, "integer", CONDITIONAL),
    V("nullif(1, 2)", 1, "integer", CONDITIONAL),
    V("if(1 > 0, 'yes', 'no')", "yes", "varchar(3)", CONDITIONAL),
    V("if(false, 1)", None, "integer", CONDITIONAL),
    V("CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two", "varchar(3)", CONDITIONAL),
    V("CASE WHEN 1 = 2 THEN 'a' ELSE 'b' END", "b", "varchar(1)", CONDITIONAL),
    V("CASE WHEN x > 2 THEN 1 END", None, "integer", CONDITIONAL, " FROM (VALUES 1) AS t(x)"),
    V("try(1 / 0)", None, "integer", CONDITIONAL),
    # ---- string functions
    V("chr(65)", "A", "varchar(1)", STRING),
    V("codepoint('A')", 65, "integer", STRING),
    V("concat('a', 'b', 'c')", "abc", "varchar(3)", STRING),
    V("'a' || 'b'", "ab", "varchar(2)", STRING),
    V("concat('a', NULL)", None, "varchar(1)", STRING),
    V("'a' || NULL", None, "varchar(1)", STRING),
    V("concat_ws(',', 'a', 'b')", "a,b", "varchar", STRING),
    V("concat_ws(',', 'a', NULL, 'b')", "a,b", "varchar", STRING),
    V("length('hello')", 5, "bigint", STRING),
    V("length('')", 0, "bigint", STRING),
    V("lower('ABC')", "abc", "varchar(3)", STRING),
    V("upper('abc')", "ABC", "varchar(3)", STRING),
    V("lpad('7', 3, '0')", "007", "varchar", STRING),
    V("rpad('ab', 4, '*')", "ab**", "varchar", STRING),
    V("lpad('abcdef', 3, 'x')", "abc", "varchar", STRING),
    V("ltrim('  a ')", "a ", "varchar(4)", STRING),
    V("rtrim(' a  ')", " a", "varchar(4)", STRING),
    V("trim('  a  ')", "a", "varchar(5)", STRING),
    V("replace('abcabc', 'b', 'x')", "axcaxc", "varchar", STRING),
    V("replace('abcabc', 'b')", "acac", "varchar", STRING),
    V("reverse('abc')", "cba", "varchar(3)", STRING),
    V("split('a,b,c', ',')", ["a", "b", "c"], "array(varchar(5))", STRING),
    V("split_part('a,b,c', ',', 2)", "b", "varchar(5)", STRING),
    V("split_part('a,b,c', ',', 4)", None, "varchar(5)", STRING),
    V("split_part('a,,c', ',', 2)", "", "varchar(4)", STRING),
    F("split_part('a,b', ',', 0)", "Index must be greater than zero", STRING),
    V("strpos('hello', 'l')", 3, "bigint", STRING),
    V("strpos('hello', 'z')", 0, "bigint", STRING),
    V("position('l' IN 'hello')", 3, "bigint", STRING),
    V("substr('hello', 2, 3)", "ell", "varchar(5)", STRING),
    V("substr('hello', -3)", "llo", "varchar(5)", STRING),
    V("substr('hello', 2)", "ello", "varchar(5)", STRING),
    V("substring('hello' FROM 2 FOR 2)", "el", "varchar(5)", STRING),
    V("starts_with('hello', 'he')", True, "boolean", STRING),
    V("levenshtein_distance('kitten', 'sitting')", 3, "bigint", STRING),
    V("hamming_distance('abc', 'abd')", 1, "bigint", STRING),
    V("translate('abc', 'b', 'x')", "axc", "varchar", STRING),
    V("upper(CAST(NULL AS varchar))", None, "varchar", STRING),
    R("luhn_check('79927398713')", "luhn_check", STRING),
    R("soundex('Robert')", "soundex", STRING),
    R("word_stem('running')", "word_stem", STRING),
    R("url_extract_host('https://example.com/path?q=1')", "url_extract_host", URL),
    # ---- regular expressions
    V("regexp_like('1a 2b 14m', '\\d+b')", True, "boolean", REGEXP),
    V("regexp_extract('1a 2b 14m', '\\d+')", "1", "varchar(9)", REGEXP),
    V("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", "a", "varchar(9)", REGEXP),
    V("regexp_extract('abc', '\\d')", None, "varchar(3)", REGEXP),
    V("regexp_extract_all('1a 2b 14m', '\\d+')", ["1", "2", "14"], "array(varchar(9))", REGEXP),
    V("regexp_replace('1a 2b 14m', '\\d+[ab] ')", "14m", "varchar(9)", REGEXP),
    V("regexp_replace('1a 2b 14m', '(\\d+)([ab]) ', '3c$2 ')", "3ca 3cb 14m", "varchar", REGEXP),
    V("regexp_replace('abc', '(b)', '[$1]')", "a[b]c", "varchar", REGEXP),
    V("regexp_replace('abab', 'b', 'x')", "axax", "varchar", REGEXP),
    V("regexp_replace('a.b', '\\.', '\\$')", "a$b", "varchar", REGEXP),
    V("regexp_split('1a 2b 14m', '\\s*[a-z]+\\s*')", ["1", "2", "14", ""], "array(varchar(9))", REGEXP),
    V("regexp_count('1a 2b 14m', '\\s*[a-z]+\\s*')", 3, "bigint", REGEXP),
    R("regexp_position('1a 2b 14m', '\\d+', 3)", "regexp_position", REGEXP),
    # ---- JSON
    V("json_extract_scalar('{\"a\": 1}', '$.a')", "1", "varchar", JSON),
    V('json_extract_scalar(\'{"a": {"b": "x"}}\', \'$.a.b\')', "x", "varchar", JSON),
    V("json_array_length('[1, 2, 3]')", 3, "bigint", JSON),
    # ---- date and time
    V("date_add('day', 1, DATE '2020-01-31')", date(2020, 2, 1), "date", DATETIME),
    V("date_add('month', 1, DATE '2020-01-31')", date(2020, 2, 29), "date", DATETIME),
    V("date_add('year', -1, DATE '2020-02-29')", date(2019, 2, 28), "date", DATETIME),
    V("date_add('hour', 3, TIMESTAMP '2020-01-01 22:00:00.000')", datetime(2020, 1, 2, 1), T3, DATETIME),
    V(
        "date_add('millisecond', 5, TIMESTAMP '2020-01-01 00:00:00.000')",
        datetime(2020, 1, 1, 0, 0, 0, 5000),
        T3,
        DATETIME,
    ),
    V("date_diff('day', DATE '2020-01-01', DATE '2020-03-01')", 60, "bigint", DATETIME),
    V("date_diff('day', DATE '2020-03-01', DATE '2020-01-01')", -60, "bigint", DATETIME),
    V(
        "date_diff('hour', TIMESTAMP '2020-01-01 10:30:00.000', TIMESTAMP '2020-01-01 12:29:00.000')",
        1,
        "bigint",
        DATETIME,
    ),
    V(
        "date_diff('second', TIMESTAMP '2020-01-01 00:00:00.000', TIMESTAMP '2020-01-01 00:01:00.500')",
        60,
        "bigint",
        DATETIME,
    ),
    V("date_diff('week', DATE '2020-01-01', DATE '2020-01-15')", 2, "bigint", DATETIME),
    V("date_diff('year', DATE '2019-06-01', DATE '2020-05-31')", 0, "bigint", DATETIME),
    V("date_trunc('month', DATE '2020-05-17')", date(2020, 5, 1), "date", DATETIME),
    V("date_trunc('week', DATE '2020-05-17')", date(2020, 5, 11), "date", DATETIME),
    V("date_trunc('quarter', DATE '2020-05-17')", date(2020, 4, 1), "date", DATETIME),
    V("date_trunc('year', DATE '2020-05-17')", date(2020, 1, 1), "date", DATETIME),
    V("date_trunc('hour', TIMESTAMP '2020-05-17 10:45:12.345')", datetime(2020, 5, 17, 10), T3, DATETIME),
    V("date_trunc('day', TIMESTAMP '2020-05-17 10:45:12.345')", datetime(2020, 5, 17), T3, DATETIME),
    V("extract(YEAR FROM DATE '2020-05-17')", 2020, "bigint", DATETIME),
    V("extract(MONTH FROM DATE '2020-05-17')", 5, "bigint", DATETIME),
    V("extract(DOW FROM DATE '2020-05-17')", 7, "bigint", DATETIME),
    V("extract(HOUR FROM TIMESTAMP '2020-05-17 10:45:12.345')", 10, "bigint", DATETIME),
    V("day_of_week(DATE '2020-05-17')", 7, "bigint", DATETIME),
    V("dow(DATE '2020-05-18')", 1, "bigint", DATETIME),
    V("day_of_year(DATE '2020-02-01')", 32, "bigint", DATETIME),
    V("doy(DATE '2020-12-31')", 366, "bigint", DATETIME),
    V("day(DATE '2020-05-17')", 17, "bigint", DATETIME),
    V("day_of_month(DATE '2020-05-17')", 17, "bigint", DATETIME),
    V("month(DATE '2020-05-17')", 5, "bigint", DATETIME),
    V("year(DATE '2020-05-17')", 2020, "bigint", DATETIME),
    V("quarter(DATE '2020-05-17')", 2, "bigint", DATETIME),
    V("week(DATE '2020-01-01')", 1, "bigint", DATETIME),
    V("week_of_year(DATE '2021-01-01')", 53, "bigint", DATETIME),
    V("year_of_week(DATE '2021-01-01')", 2020, "bigint", DATETIME),
    V("hour(TIMESTAMP '2020-05-17 10:45:12.345')", 10, "bigint", DATETIME),
    V("minute(TIMESTAMP '2020-05-17 10:45:12.345')", 45, "bigint", DATETIME),
    V("second(TIMESTAMP '2020-05-17 10:45:12.345')", 12, "bigint", DATETIME),
    V("millisecond(TIMESTAMP '2020-05-17 10:45:12.345')", 345, "bigint", DATETIME),
    V("last_day_of_month(DATE '2020-02-10')", date(2020, 2, 29), "date", DATETIME),
    V("from_unixtime(0)", datetime(1970, 1, 1, tzinfo=UTC), TZ3, DATETIME),
    V("to_unixtime(TIMESTAMP '1970-01-01 00:00:10.000')", 10.0, "double", DATETIME),
    V(
        "date_format(TIMESTAMP '2020-05-17 10:45:12.345', '%Y-%m-%d %H:%i:%s')",
        "2020-05-17 10:45:12",
        "varchar",
        DATETIME,
    ),
    V("date_format(TIMESTAMP '2020-05-17 10:45:12.345', '%Y%m%d')", "20200517", "varchar", DATETIME),
    V("date_parse('2020-05-17 10:45', '%Y-%m-%d %H:%i')", datetime(2020, 5, 17, 10, 45), T3, DATETIME),
    V(
        "format_datetime(TIMESTAMP '2020-05-17 10:45:12.345', 'yyyy-MM-dd HH:mm:ss')",
        "2020-05-17 10:45:12",
        "varchar",
        DATETIME,
    ),
    V("format_datetime(TIMESTAMP '2020-05-17 10:45:12.345', 'yyyyMMdd')", "20200517", "varchar", DATETIME),
    R("format_datetime(TIMESTAMP '2020-05-17 10:45:12.345', 'EEEE')", "format_datetime() field", DATETIME),
    R("parse_datetime('2020-05-17', 'yyyy-MM-dd')", "parse_datetime", DATETIME),
    V("from_iso8601_date('2020-05-17')", date(2020, 5, 17), "date", DATETIME),
    V("from_iso8601_date('2020-W10')", date(2020, 3, 2), "date", DATETIME),
    V("from_iso8601_date('2020-W10-3')", date(2020, 3, 4), "date", DATETIME),
    V("from_iso8601_date('2020-123')", date(2020, 5, 2), "date", DATETIME),
    V(
        "from_iso8601_timestamp('2020-05-11T11:15:05.055Z')",
        datetime(2020, 5, 11, 11, 15, 5, 55000, tzinfo=UTC),
        TZ3,
        DATETIME,
    ),
    R("from_iso8601_timestamp('2020-05-11T11:15:05+02:00')", "from_iso8601_timestamp", DATETIME),
    R("hour(from_iso8601_timestamp('2020-05-11T11:15:05-05:00'))", "from_iso8601_timestamp", DATETIME),
    V("to_iso8601(DATE '2020-05-17')", "2020-05-17", "varchar", DATETIME),
    V("to_iso8601(TIMESTAMP '2020-05-17 10:45:12.345')", "2020-05-17T10:45:12.345", "varchar", DATETIME),
    V("DATE '2020-01-31' + INTERVAL '1' DAY", date(2020, 2, 1), "date", DATETIME),
    V("DATE '2020-01-31' + INTERVAL '1' MONTH", date(2020, 2, 29), "date", DATETIME),
    V("DATE '2020-03-01' - INTERVAL '1' DAY", date(2020, 2, 29), "date", DATETIME),
    V("CAST(DATE '2020-01-31' + INTERVAL '1' DAY AS varchar)", "2020-02-01", "varchar", DATETIME),
    V(
        "TIMESTAMP '2020-01-01 00:00:00.000' + INTERVAL '90' MINUTE",
        datetime(2020, 1, 1, 1, 30),
        T3,
        DATETIME,
    ),
    V("TIMESTAMP '2020-01-01 00:00:00.000' - INTERVAL '1' DAY", datetime(2019, 12, 31), T3, DATETIME),
    R("DATE '2020-01-01' + INTERVAL '1' HOUR", "date + INTERVAL", DATETIME),
    V("CAST(TIMESTAMP '2020-05-17 10:45:12.345' AS varchar)", "2020-05-17 10:45:12.345", "varchar", DATETIME),
    V("CAST(TIMESTAMP '2020-05-17 10:45:12' AS varchar)", "2020-05-17 10:45:12", "varchar", DATETIME),
    V(
        "TIMESTAMP '2020-05-17 10:45:12.3456' = TIMESTAMP '2020-05-17 10:45:12.346'",
        True,
        "boolean",
        ATHENA_TYPES,
    ),
    V(
        "CAST('2020-05-17 10:45:12.3456' AS timestamp)",
        datetime(2020, 5, 17, 10, 45, 12, 346000),
        T3,
        ATHENA_TYPES,
    ),
    R("CAST(TIMESTAMP '2020-05-17 10:45:12.345' AS TIMESTAMP(1))", "TIMESTAMP(1)", DATETIME),
    R("CAST(TIMESTAMP '2020-05-17 10:45:12.345' AS TIMESTAMP(6))", "TIMESTAMP(6)", DATETIME),
    V("hour(TIMESTAMP '2020-05-17 10:00:00.000' AT TIME ZONE 'Asia/Tokyo')", 19, "bigint", DATETIME),
    V(
        "date_format(TIMESTAMP '2020-05-17 10:00:00.000' AT TIME ZONE 'America/New_York', '%H:%i')",
        "06:00",
        "varchar",
        DATETIME,
    ),
    V(
        "TIMESTAMP '2020-05-17 10:00:00.000' AT TIME ZONE 'UTC'",
        datetime(2020, 5, 17, 10, tzinfo=UTC),
        TZ3,
        DATETIME,
    ),
    R("TIMESTAMP '2020-05-17 10:00:00.000' AT TIME ZONE 'America/New_York'", "outside date_format", DATETIME),
    R("with_timezone(TIMESTAMP '2020-05-17 10:00:00.000', 'America/New_York')", "with_timezone", DATETIME),
    R("human_readable_seconds(96)", "human_readable_seconds", DATETIME),
    V("DATE '2020-05-17' BETWEEN DATE '2020-05-01' AND DATE '2020-05-31'", True, "boolean", COMPARISON),
    V("typeof(current_date)", "date", "varchar", DATETIME),
    # ---- arrays
    V("ARRAY[1, 2, 3]", [1, 2, 3], "array(integer)", ARRAY),
    V("cardinality(ARRAY[1, 2, 3])", 3, "bigint", ARRAY),
    V("array_distinct(ARRAY[1, 2, 2, 3])", [1, 2, 3], "array(integer)", ARRAY),
    V("array_max(ARRAY[1, 3, 2])", 3, "integer", ARRAY),
    V("array_min(ARRAY[1, 3, 2])", 1, "integer", ARRAY),
    V("array_position(ARRAY[10, 20, 30], 20)", 2, "bigint", ARRAY),
    V("array_position(ARRAY[10, 20, 30], 99)", 0, "bigint", ARRAY),
    V("array_remove(ARRAY[1, 2, 1], 1)", [2], "array(integer)", ARRAY),
    V("array_sort(ARRAY[3, 1, 2])", [1, 2, 3], "array(integer)", ARRAY),
    V("array_join(ARRAY['a', 'b'], '-')", "a-b", "varchar", ARRAY),
    V("array_join(ARRAY['a', NULL, 'b'], ',')", "a,b", "varchar", ARRAY),
    V("contains(ARRAY[1, 2], 2)", True, "boolean", ARRAY),
    V("contains(ARRAY[1, 2], 3)", False, "boolean", ARRAY),
    V("contains(ARRAY[1, NULL], 3)", None, "boolean", ARRAY),
    V("element_at(ARRAY[1, 2, 3], 2)", 2, "integer", ARRAY),
    V("element_at(ARRAY[1, 2, 3], 5)", None, "integer", ARRAY),
    V("element_at(ARRAY[1, 2, 3], -1)", 3, "integer", ARRAY),
    F("element_at(ARRAY[1, 2, 3], 0)", "SQL array indices start at 1", ARRAY),
    V("ARRAY[1, 2, 3][2]", 2, "integer", ARRAY),
    F("ARRAY[1, 2, 3][5]", "Array subscript must be less than or equal to array length: 5 > 3", ARRAY),
    F("ARRAY[1, 2, 3][0]", "SQL array indices start at 1", ARRAY),
    V("slice(ARRAY[1, 2, 3, 4], 2, 2)", [2, 3], "array(integer)", ARRAY),
    V("slice(ARRAY[1, 2, 3, 4], -2, 2)", [3, 4], "array(integer)", ARRAY),
    V("slice(ARRAY[1, 2, 3, 4], 3, 10)", [3, 4], "array(integer)", ARRAY),
    V("slice(ARRAY[1, 2, 3, 4], 1, 0)", [], "array(integer)", ARRAY),
    V("concat(ARRAY[1, 2], ARRAY[3])", [1, 2, 3], "array(integer)", ARRAY),
    V("ARRAY[1] || ARRAY[2]", [1, 2], "array(integer)", ARRAY),
    V("ARRAY[1, 2] || 3", [1, 2, 3], "array(integer)", ARRAY),
    V("0 || ARRAY[1, 2]", [0, 1, 2], "array(integer)", ARRAY),
    R("split('a,b,c', ',', 2)", "split() with a limit", STRING),
    V("flatten(ARRAY[ARRAY[1, 2], ARRAY[3]])", [1, 2, 3], "array(integer)", ARRAY),
    V("sequence(1, 5)", [1, 2, 3, 4, 5], "array(bigint)", ARRAY),
    V("sequence(1, 10, 3)", [1, 4, 7, 10], "array(bigint)", ARRAY),
    V(
        "sequence(DATE '2020-01-01', DATE '2020-01-03')",
        [date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 3)],
        "array(date)",
        ARRAY,
    ),
    V("reverse(ARRAY[1, 2, 3])", [3, 2, 1], "array(integer)", ARRAY),
    V("array_intersect(ARRAY[1, 2, 3], ARRAY[2, 3, 4])", [2, 3], "array(integer)", ARRAY),
    V("array_union(ARRAY[1, 2], ARRAY[2, 3])", [1, 2, 3], "array(integer)", ARRAY),
    V("array_except(ARRAY[1, 2, 3], ARRAY[2])", [1, 3], "array(integer)", ARRAY),
    V("transform(ARRAY[1, 2], x -> x * 2)", [2, 4], "array(integer)", ARRAY),
    V("filter(ARRAY[1, 2, 3], x -> x > 1)", [2, 3], "array(integer)", ARRAY),
    R("reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s)", "Reduce", ARRAY),
    V("any_match(ARRAY[1, 2], x -> x > 1)", True, "boolean", ARRAY),
    V("all_match(ARRAY[1, 2], x -> x > 1)", False, "boolean", ARRAY),
    V("none_match(ARRAY[1, 2], x -> x > 5)", True, "boolean", ARRAY),
    V("arrays_overlap(ARRAY[1, 2], ARRAY[2, 3])", True, "boolean", ARRAY),
    V("repeat(1, 3)", [1, 1, 1], "array(integer)", ARRAY),
    R("shuffle(ARRAY[1, 2, 3])", "shuffle", ARRAY),
    R("MAP(ARRAY['a'], ARRAY[1])['a']", "map subscript", MAP),
    R("SELECT map_agg(g, x) FROM (VALUES ('a', 1)) AS t(g, x)", "map_agg", AGGREGATE),
    Q("SELECT x FROM UNNEST(ARRAY[1, 2, 3]) AS t(x)", [(1,), (2,), (3,)], SELECT),
    Q("SELECT x, n FROM UNNEST(ARRAY[10, 20]) WITH ORDINALITY AS t(x, n)", [(10, 1), (20, 2)], SELECT),
    Q(
        "SELECT g, x FROM (VALUES ('a', ARRAY[1, 2])) AS t(g, a) CROSS JOIN UNNEST(a) AS u(x) ORDER BY x",
        [("a", 1), ("a", 2)],
        SELECT,
    ),
    # ---- aggregate functions
    V("count(*)", 3, "bigint", AGGREGATE, NULLS),
    V("count(x)", 2, "bigint", AGGREGATE, NULLS),
    V("count(DISTINCT x)", 4, "bigint", AGGREGATE, GROUPS),
    V("sum(x)", 15, "bigint", AGGREGATE, NUMS),
    V("sum(x)", D("3.5"), "decimal(38,1)", AGGREGATE, DECS),
    V("avg(x)", 3.0, "double", AGGREGATE, NUMS),
    V("avg(x)", D("1.8"), "decimal(2,1)", AGGREGATE, DECS),
    V("min(x)", 1, "integer", AGGREGATE, NUMS),
    V("max(x)", 5, "integer", AGGREGATE, NUMS),
    V("max(g)", "c", "varchar(1)", AGGREGATE, GROUPS),
    V("count_if(x > 1)", 4, "bigint", AGGREGATE, NUMS),
    V("bool_and(x > 0)", True, "boolean", AGGREGATE, NUMS),
    V("bool_or(x > 4)", True, "boolean", AGGREGATE, NUMS),
    V("every(x > 1)", False, "boolean", AGGREGATE, NUMS),
    V("approx_distinct(x)", 4, "bigint", AGGREGATE, GROUPS),
    V("approx_percentile(x, 0.5)", 3, "bigint", AGGREGATE, NUMS),
    V("max_by(g, x)", "c", "varchar(1)", AGGREGATE, GROUPS),
    V("min_by(g, x)", "a", "varchar(1)", AGGREGATE, GROUPS),
    V("stddev_samp(x)", 1.5811388300841898, "double", AGGREGATE, NUMS),
    V("variance(x)", 2.5, "double", AGGREGATE, NUMS),
    V("var_pop(x)", 2.0, "double", AGGREGATE, NUMS),
    V("sum(x) FILTER (WHERE x > 1)", 14, "bigint", AGGREGATE, NUMS),
    V("array_agg(x ORDER BY x DESC)", [5, 4, 3, 2, 1], "array(integer)", AGGREGATE, NUMS),
    V("array_agg(DISTINCT x ORDER BY x)", [1, 2, 5, 9], "array(integer)", AGGREGATE, GROUPS),
    V("sum(x)", None, "bigint", AGGREGATE, " FROM (VALUES 1) AS t(x) WHERE x > 5"),
    V("count(*)", 0, "bigint", AGGREGATE, " FROM (VALUES 1) AS t(x) WHERE x > 5"),
    R("checksum(x)", "checksum", AGGREGATE),
    R("SELECT histogram(x) FROM (VALUES 1) AS t(x)", "histogram", AGGREGATE),
    R("SELECT approx_percentile(x, 2, 0.5) FROM (VALUES 1) AS t(x)", "approx_percentile", AGGREGATE),
    Q(
        "SELECT g, count(*) AS n, sum(x) AS total FROM (VALUES ('a', 1), ('a', 2), ('b', 5)) AS t(g, x) "
        "GROUP BY g HAVING sum(x) > 2 ORDER BY g",
        [("a", 2, 3), ("b", 1, 5)],
        SELECT,
    ),
    # ---- window functions
    Q(
        "SELECT x, row_number() OVER (ORDER BY x) FROM (VALUES 30, 10, 20) AS t(x) ORDER BY x",
        [(10, 1), (20, 2), (30, 3)],
        WINDOW,
    ),
    Q(
        "SELECT x, rank() OVER (ORDER BY x), dense_rank() OVER (ORDER BY x) FROM (VALUES 1, 1, 2) AS t(x) "
        "ORDER BY x",
        [(1, 1, 1), (1, 1, 1), (2, 3, 2)],
        WINDOW,
    ),
    Q(
        "SELECT x, percent_rank() OVER (ORDER BY x), cume_dist() OVER (ORDER BY x) "
        "FROM (VALUES 1, 2, 3) AS t(x) ORDER BY x",
        [(1, 0.0, 1 / 3), (2, 0.5, 2 / 3), (3, 1.0, 1.0)],
        WINDOW,
    ),
    Q(
        "SELECT x, ntile(2) OVER (ORDER BY x) FROM (VALUES 1, 2, 3) AS t(x) ORDER BY x",
        [(1, 1), (2, 1), (3, 2)],
        WINDOW,
    ),
    Q(
        "SELECT x, lag(x) OVER (ORDER BY x), lead(x, 1, 0) OVER (ORDER BY x) FROM (VALUES 1, 2, 3) AS t(x) "
        "ORDER BY x",
        [(1, None, 2), (2, 1, 3), (3, 2, 0)],
        WINDOW,
    ),
    Q(
        "SELECT x, first_value(x) OVER w, last_value(x) OVER w FROM (VALUES 1, 2, 3) AS t(x) "
        "WINDOW w AS (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) ORDER BY x",
        [(1, 1, 3), (2, 1, 3), (3, 1, 3)],
        WINDOW,
    ),
    Q(
        "SELECT x, last_value(x) OVER (ORDER BY x) FROM (VALUES 1, 2, 3) AS t(x) ORDER BY x",
        [(1, 1), (2, 2), (3, 3)],
        WINDOW,
    ),
    Q(
        "SELECT x, sum(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
        "FROM (VALUES 1, 2, 3, 4) AS t(x) ORDER BY x",
        [(1, 1), (2, 3), (3, 5), (4, 7)],
        WINDOW,
    ),
    Q(
        "SELECT x, sum(x) OVER (ORDER BY x) FROM (VALUES 1, 2, 2, 3) AS t(x) ORDER BY x",
        [(1, 1), (2, 5), (2, 5), (3, 8)],
        WINDOW,
    ),
    Q(
        "SELECT x, nth_value(x, 2) OVER (ORDER BY x ROWS "
        "BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) "
        "FROM (VALUES 1, 2, 3) AS t(x) ORDER BY x",
        [(1, 2), (2, 2), (3, 2)],
        WINDOW,
    ),
    Q(
        "SELECT g, x, avg(x) OVER (PARTITION BY g) FROM (VALUES ('a', 1), ('a', 2), ('b', 5)) AS t(g, x) "
        "ORDER BY g, x",
        [("a", 1, 1.5), ("a", 2, 1.5), ("b", 5, 5.0)],
        WINDOW,
    ),
    Q(
        "SELECT x, count(*) OVER (ORDER BY x RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) "
        "FROM (VALUES 1, 2, 4) AS t(x) ORDER BY x",
        [(1, 2), (2, 2), (4, 1)],
        WINDOW,
    ),
    V("typeof(row_number() OVER ())", "bigint", "varchar", WINDOW),
    V("typeof(rank() OVER (ORDER BY 1))", "bigint", "varchar", WINDOW),
    # ---- SELECT clauses
    Q(
        "SELECT g, sum(x) FROM (VALUES ('a', 1), ('a', 2), ('b', 5)) AS t(g, x) GROUP BY ROLLUP (g) ORDER "
        "BY g",
        [("a", 3), ("b", 5), (None, 8)],
        SELECT,
    ),
    Q(
        "SELECT g, h, sum(x) FROM (VALUES ('a', 'x', 1), ('a', 'y', 2), ('b', 'x', 5)) AS t(g, h, x) "
        "GROUP BY GROUPING SETS ((g), (h), ()) ORDER BY g, h",
        [("a", None, 3), ("b", None, 5), (None, "x", 6), (None, "y", 2), (None, None, 8)],
        SELECT,
    ),
    Q(
        "SELECT g, grouping(g), count(*) FROM (VALUES 'a', 'b') AS t(g) GROUP BY ROLLUP (g) ORDER BY g",
        [("a", 0, 1), ("b", 0, 1), (None, 1, 2)],
        SELECT,
    ),
    Q(
        "SELECT g, h, count(*) FROM (VALUES ('a', 'x'), ('b', 'y')) AS t(g, h) GROUP BY CUBE (g, h) ORDER "
        "BY g, h",
        [
            ("a", "x", 1),
            ("a", None, 1),
            ("b", "y", 1),
            ("b", None, 1),
            (None, "x", 1),
            (None, "y", 1),
            (None, None, 2),
        ],
        SELECT,
    ),
    Q(
        "SELECT * FROM (VALUES 1, 2) AS t(x) UNION SELECT * FROM (VALUES 2, 3) AS u(x) ORDER BY 1",
        [(1,), (2,), (3,)],
        SELECT,
    ),
    Q(
        "SELECT * FROM (VALUES 1, 2) AS t(x) UNION ALL SELECT * FROM (VALUES 2, 3) AS u(x) ORDER BY 1",
        [(1,), (2,), (2,), (3,)],
        SELECT,
    ),
    Q(
        "SELECT * FROM (VALUES 1, 2, 3) AS t(x) INTERSECT SELECT * FROM (VALUES 2, 3, 4) AS u(x) ORDER BY 1",
        [(2,), (3,)],
        SELECT,
    ),
    Q(
        "SELECT * FROM (VALUES 1, 2, 3) AS t(x) EXCEPT SELECT * FROM (VALUES 2) AS u(x) ORDER BY 1",
        [(1,), (3,)],
        SELECT,
    ),
    Q("WITH w AS (SELECT 1 AS a) SELECT a + 1 FROM w", [(2,)], SELECT),
    Q("WITH w (a, b) AS (SELECT 1, 2) SELECT b FROM w", [(2,)], SELECT),
    R("VALUES (1, 'a'), (2, 'b')", "VALUES statement", VALUES_DOC),
    Q("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name) WHERE id = 2", [(2, "b")], VALUES_DOC),
    Q("SELECT x FROM (VALUES 2, NULL, 1) AS t(x) ORDER BY x", [(1,), (2,), (None,)], SELECT),
    Q("SELECT x FROM (VALUES 2, NULL, 1) AS t(x) ORDER BY x DESC", [(2,), (1,), (None,)], SELECT),
    Q("SELECT x FROM (VALUES 2, NULL, 1) AS t(x) ORDER BY x NULLS FIRST", [(None,), (1,), (2,)], SELECT),
    Q("SELECT x FROM (VALUES 3, 1, 2) AS t(x) ORDER BY x OFFSET 1 LIMIT 1", [(2,)], SELECT),
    Q("SELECT x FROM (VALUES 3, 1, 2) AS t(x) ORDER BY x FETCH FIRST 2 ROWS ONLY", [(1,), (2,)], SELECT),
    Q("SELECT x FROM (VALUES 3, 1, 2) AS t(x) ORDER BY x OFFSET 2 ROWS", [(3,)], SELECT),
    R("SELECT x FROM (VALUES 1, 1, 2) AS t(x) ORDER BY x FETCH FIRST 1 ROWS WITH TIES", "WITH TIES", SELECT),
    Q("SELECT DISTINCT x FROM (VALUES 1, 1, 2) AS t(x) ORDER BY x", [(1,), (2,)], SELECT),
    Q("SELECT x FROM (VALUES 1, 2, 3) AS t(x) WHERE x IN (SELECT 2) ", [(2,)], SELECT),
    Q("SELECT x FROM (VALUES 1, 2) AS t(x) WHERE EXISTS (SELECT 1 WHERE x > 1)", [(2,)], SELECT),
    Q("SELECT (SELECT max(y) FROM (VALUES 4, 5) AS u(y)) + 1", [(6,)], SELECT),
    Q(
        "SELECT t.k, u.v FROM (VALUES 1, 2) AS t(k) LEFT JOIN (VALUES (1, 'one')) AS u(k, v) ON t.k = u.k "
        "ORDER BY t.k",
        [(1, "one"), (2, None)],
        SELECT,
    ),
    Q(
        "SELECT count(*) FROM (VALUES 1, 2) AS t(k) CROSS JOIN (VALUES 1, 2, 3) AS u(k)",
        [(6,)],
        SELECT,
    ),
    Q(
        "SELECT t.k FROM (VALUES 1, 2) AS t(k) FULL OUTER JOIN (VALUES 2, 3) AS u(k) ON t.k = u.k ORDER BY 1",
        [(1,), (2,), (None,)],
        SELECT,
    ),
    Q("SELECT x, count(*) FROM (VALUES 1, 1, 2) AS t(x) GROUP BY 1 ORDER BY 1", [(1, 2), (2, 1)], SELECT),
    Q("SELECT 1 AS a, 'x' AS b", [(1, "x")], SELECT),
    # ---- DDL and statements the application relies on (Athena's DDL reference)
    R("CREATE VIEW v AS SELECT 1", "CREATE VIEW", f"{ATHENA}/create-view.html"),
    R("UPDATE orders_cdc SET quantity = 1", "UPDATE", f"{ATHENA}/update-statement.html"),
    R("DELETE FROM orders_cdc WHERE quantity = 1", "DELETE", f"{ATHENA}/delete-statement.html"),
    R("EXPLAIN SELECT 1", "EXPLAIN", f"{ATHENA}/athena-explain-statement.html"),
    R(
        "CREATE EXTERNAL TABLE x (a string) LOCATION 's3://lake/x/'",
        "CREATE EXTERNAL TABLE",
        f"{ATHENA}/create-table.html",
    ),
    R(
        "CREATE TABLE t WITH (format = 'ORC') AS SELECT 1 AS a",
        "ORC",
        ATHENA_CTAS,
    ),
    F("SELECT * FROM no_such_table", "no_such_table", f"{ATHENA}/select.html"),
]
