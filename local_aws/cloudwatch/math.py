"""CloudWatch metric math, the subset local alarms use, evaluated one period at a time (never ``eval``).

:func:`parse` turns an expression such as ``IF(FILL(m1, 0) > 0 AND FILL(m2, 0) == 0, 1, 0)`` into a
:class:`Expression`; :meth:`Expression.evaluate` gives its value for one period from the values of
the ids it names (None: the metric has no datapoint in that period). The subset: numbers, ids,
``FILL(id, number)``, ``IF(condition, a, b)``, ``AND``, ``OR``, ``NOT``, the comparisons
``> >= < <= == !=``, ``+ - * /``, unary minus and parentheses. As in CloudWatch, a comparison or
logical operator gives 1 or 0, and a value computed from a missing one is missing (FILL supplies one);
dividing by zero gives no datapoint. Anything else (other functions, time-series forms of FILL) is
refused with :class:`MathError` naming the expression and what was seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Value = float | None
_Node = Callable[[Mapping[str, Value]], Value]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|>|<|\+|-|\*|/|\(|\)|,))"
)
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_KEYWORDS = {"AND", "OR", "NOT", "IF", "FILL"}
FUNCTIONS = ("FILL", "IF")


class MathError(ValueError):
    """A metric math expression outside the locally evaluated subset; the message names it."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the ids it reads, and the function of one period's values."""

    text: str
    ids: frozenset[str]
    _evaluate: _Node

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        """The expression's value for one period (None: no datapoint); ``values`` maps each id."""
        missing = self.ids - set(values)
        if missing:
            raise MathError(f"expression {self.text!r} reads {sorted(missing)} but no value was given")
        return self._evaluate(values)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise MathError(
                f"expression {text!r}: cannot read {text[position:].strip()[:20]!r} at character {position}; "
                f"only numbers, ids, {', '.join(FUNCTIONS)}, AND, OR, NOT, comparisons and + - * / are "
                "evaluated locally"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _arithmetic(op: str, a: float, b: float) -> Value:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


class _Parser:
    """Recursive descent, lowest precedence first: OR, AND, NOT, comparison, + -, * /, unary minus."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.ids: set[str] = set()

    def fail(self, expected: str) -> MathError:
        seen = self.tokens[self.at][1] if self.at < len(self.tokens) else "the end"
        return MathError(f"expression {self.text!r}: expected {expected}, found {seen!r}")

    def peek(self) -> str | None:
        if self.at >= len(self.tokens):
            return None
        kind, value, _ = self.tokens[self.at]
        return value.upper() if kind == "name" and value.upper() in _KEYWORDS else value

    def take(self, expected: str) -> None:
        if self.peek() != expected:
            raise self.fail(repr(expected))
        self.at += 1

    def parse(self) -> Expression:
        node = self.or_()
        if self.at != len(self.tokens):
            raise self.fail("an operator or the end")
        return Expression(self.text, frozenset(self.ids), node)

    def or_(self) -> _Node:
        node = self.and_()
        while self.peek() == "OR":
            self.at += 1
            node = _logical(node, self.and_(), any)
        return node

    def and_(self) -> _Node:
        node = self.not_()
        while self.peek() == "AND":
            self.at += 1
            node = _logical(node, self.not_(), all)
        return node

    def not_(self) -> _Node:
        if self.peek() == "NOT":
            self.at += 1
            operand = self.not_()

            def negate(values: Mapping[str, Value]) -> Value:
                value = operand(values)
                return None if value is None else float(value == 0)

            return negate
        return self.comparison()

    def comparison(self) -> _Node:
        node = self.sum_()
        op = self.peek()
        if op in _COMPARISONS:
            self.at += 1
            right, compare, left = self.sum_(), _COMPARISONS[op], node

            def compared(values: Mapping[str, Value]) -> Value:
                a, b = left(values), right(values)
                return None if a is None or b is None else float(compare(a, b))

            return compared
        return node

    def sum_(self) -> _Node:
        node = self.product()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.at][1]
            self.at += 1
            node = _binary(op, node, self.product())
        return node

    def product(self) -> _Node:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.tokens[self.at][1]
            self.at += 1
            node = _binary(op, node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.peek() == "-":
            self.at += 1
            operand = self.unary()

            def negative(values: Mapping[str, Value]) -> Value:
                value = operand(values)
                return None if value is None else -value

            return negative
        return self.primary()

    def primary(self) -> _Node:
        if self.at >= len(self.tokens):
            raise self.fail("a number, an id or a function")
        kind, value, _ = self.tokens[self.at]
        word = self.peek()
        if kind == "number":
            self.at += 1
            number = float(value)
            return lambda values: number
        if word == "(":
            self.at += 1
            node = self.or_()
            self.take(")")
            return node
        if word == "FILL":
            return self.fill()
        if word == "IF":
            return self.if_()
        if kind == "name" and word not in _KEYWORDS:
            self.at += 1
            if self.peek() == "(":
                raise MathError(
                    f"expression {self.text!r}: function {value}() is not evaluated locally; only "
                    f"{', '.join(FUNCTIONS)} are"
                )
            self.ids.add(value)
            return lambda values: values[value]
        raise self.fail("a number, an id or a function")

    def fill(self) -> _Node:
        self.at += 1
        self.take("(")
        if self.at >= len(self.tokens) or self.tokens[self.at][0] != "name" or self.peek() in _KEYWORDS:
            raise self.fail("an id as FILL's first argument")
        name = self.tokens[self.at][1]
        self.ids.add(name)
        self.at += 1
        self.take(",")
        negative = self.peek() == "-"
        if negative:
            self.at += 1
        if self.at >= len(self.tokens) or self.tokens[self.at][0] != "number":
            raise self.fail(
                "a number as FILL's second argument (REPEAT and LINEAR are not evaluated locally)"
            )
        filler = float(self.tokens[self.at][1]) * (-1 if negative else 1)
        self.at += 1
        self.take(")")

        def filled(values: Mapping[str, Value]) -> Value:
            value = values[name]
            return filler if value is None else value

        return filled

    def if_(self) -> _Node:
        self.at += 1
        self.take("(")
        condition = self.or_()
        self.take(",")
        then = self.or_()
        self.take(",")
        otherwise = self.or_()
        self.take(")")

        def chosen(values: Mapping[str, Value]) -> Value:
            decided = condition(values)
            if decided is None:
                return None
            return then(values) if decided != 0 else otherwise(values)

        return chosen


def _binary(op: str, left: _Node, right: _Node) -> _Node:
    def applied(values: Mapping[str, Value]) -> Value:
        a, b = left(values), right(values)
        return None if a is None or b is None else _arithmetic(op, a, b)

    return applied


def _logical(left: _Node, right: _Node, combine: Callable[[list[bool]], bool]) -> _Node:
    def applied(values: Mapping[str, Value]) -> Value:
        a, b = left(values), right(values)
        return None if a is None or b is None else float(combine([a != 0, b != 0]))

    return applied


def parse(text: str) -> Expression:
    """The expression ``text`` parsed; raises MathError naming what is outside the subset."""
    if not isinstance(text, str) or not text.strip():
        raise MathError(f"expression {text!r} is empty; write one such as 'IF(FILL(m1, 0) > 0, 1, 0)'")
    return _Parser(text).parse()
