"""Hive DDL and the catalog statements, run against Glue.

sqlglot leaves ``MSCK REPAIR TABLE``, ``ALTER TABLE ... ADD/DROP PARTITION``, ``SHOW ...`` and
``DESCRIBE`` unparsed, so they are read from a small tokenizer of their own; ``DROP TABLE`` and
``CREATE DATABASE`` arrive parsed by sqlglot. Every name and partition value is validated by
:mod:`infra.lake` before Glue is called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from sqlglot import exp

from infra.lake import (
    as_folder,
    batch_create_partitions,
    batch_delete_partitions,
    hive_escape,
    hive_unescape,
    is_hidden_key,
    list_objects,
    parse_s3_uri,
    partition_folder,
    partition_input,
    s3_uri,
    validate_column,
    validate_database,
    validate_partition_value,
    validate_s3_uri,
    validate_table,
)
from local_aws.athena.catalog import GlueCatalog, resolve_table_ref
from local_aws.athena.errors import SUPPORTED_HINT, LocalQueryError
from local_aws.athena.iceberg import IcebergTables, is_iceberg
from local_aws.athena.statement import Outcome, Statement


@dataclass(frozen=True)
class Token:
    """One token of a Hive DDL statement."""

    kind: str  # WORD | IDENT (quoted identifier) | STRING | NUMBER | SYMBOL | OTHER
    text: str


_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
    |'(?P<string>(?:[^']|'')*)'
    |`(?P<backtick>[^`]*)`
    |"(?P<quoted>(?:[^"]|"")*)"
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<symbol>[(),=.;*])
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(sql: str) -> list[Token]:
    """Tokens of a Hive DDL statement; characters outside its simple grammar become OTHER tokens
    (which the DDL parser refuses, while other statements go on to sqlglot)."""
    tokens: list[Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN_PATTERN.match(sql, position)
        if match is None:
            tokens.append(Token("OTHER", sql[position]))
            position += 1
            continue
        position = match.end()
        kind = match.lastgroup
        if kind == "space":
            continue
        if kind == "string":
            tokens.append(Token("STRING", match.group("string").replace("''", "'")))
        elif kind in ("backtick", "quoted"):
            tokens.append(Token("IDENT", match.group(kind).replace('""', '"')))
        elif kind == "number":
            tokens.append(Token("NUMBER", match.group("number")))
        elif kind == "word":
            tokens.append(Token("WORD", match.group("word")))
        else:
            tokens.append(Token("SYMBOL", match.group("symbol")))
    return tokens


class TokenStream:
    """A cursor over the tokens of the Hive DDL statements sqlglot leaves unparsed."""

    def __init__(self, statement: Statement, tokens: list[Token]) -> None:
        self.statement = statement
        self.tokens = tokens
        self.index = 0

    def skip(self, count: int) -> None:
        """Move past ``count`` tokens already recognised."""
        self.index += count

    def _current(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def peek_word(self) -> str:
        """The next token's text (keywords upper-cased), '' at the end."""
        token = self._current()
        if token is None:
            return ""
        return token.text.upper() if token.kind == "WORD" else token.text

    def peek_kind(self) -> str | None:
        """The next token's kind, None at the end."""
        token = self._current()
        return token.kind if token else None

    def accept(self, word: str) -> bool:
        """Consume the next token if it is the keyword or symbol ``word``."""
        token = self._current()
        if token is not None and token.kind in ("WORD", "SYMBOL") and token.text.upper() == word:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        """Consume the keyword or symbol ``word``, or fail with a syntax error."""
        if not self.accept(word):
            raise self._syntax_error(word)

    def word(self) -> str:
        """Consume a keyword (upper-cased) or quoted identifier."""
        token = self._take(("WORD", "IDENT"), "a keyword")
        return token.text.upper() if token.kind == "WORD" else token.text

    def name(self) -> str:
        """Consume a (lower-cased) name."""
        return self._take(("WORD", "IDENT"), "a name").text.lower()

    def table_name(self) -> tuple[str, str]:
        """Consume ``[awsdatacatalog.][db.]table``: validated (database, table)."""
        parts = [self.name()]
        while self.accept("."):
            parts.append(self.name())
        if len(parts) == 3:
            if parts[0] != "awsdatacatalog":
                raise self.statement.unsupported(
                    f"catalog {parts[0]!r}", "only the Glue catalog is available"
                )
            parts = parts[1:]
        if len(parts) == 2:
            return validate_database(parts[0]), validate_table(parts[1])
        if len(parts) == 1:
            return validate_database(self.statement.database), validate_table(parts[0])
        raise self.statement.fail(f"SYNTAX_ERROR: {'.'.join(parts)} is not a table name")

    def string(self) -> str:
        """Consume a quoted string and return its text."""
        return self._take(("STRING",), "a quoted string").text

    def value(self) -> str:
        """Consume a partition value (a string or a number)."""
        return self._take(("STRING", "NUMBER"), "a partition value").text

    def _take(self, kinds: tuple[str, ...], what: str) -> Token:
        token = self._current()
        if token is None or token.kind not in kinds:
            raise self._syntax_error(what)
        self.index += 1
        return token

    def _syntax_error(self, expected: str) -> LocalQueryError:
        return self.statement.fail(
            f"SYNTAX_ERROR: expected {expected} but found {self.peek_word() or 'the end'!r}"
        )

    def partition_spec(self) -> dict[str, str]:
        """Consume ``(key = value, ...)``."""
        self.expect("(")
        spec: dict[str, str] = {}
        while True:
            key = validate_column(self.name())
            self.expect("=")
            spec[key] = self.value()
            if not self.accept(","):
                break
        self.expect(")")
        return spec

    def end(self) -> None:
        """Accept trailing semicolons; fail on anything else."""
        while self.accept(";"):
            pass
        if self._current() is not None:
            raise self.statement.fail(f"SYNTAX_ERROR: unexpected {self.peek_word()!r}")


class HiveDdl:
    """The statements that change or show the catalog rather than query data."""

    def __init__(self, catalog: GlueCatalog, s3: Any, iceberg: IcebergTables | None = None) -> None:
        self.catalog = catalog
        self.s3 = s3
        self.iceberg = iceberg

    def run(self, statement: Statement, tokens: list[Token]) -> Outcome | None:
        """Hive DDL and SHOW statements (sqlglot leaves them unparsed): run them from their tokens."""
        words = [t.text.upper() if t.kind == "WORD" else "" for t in tokens[:4]]
        head = words + [""] * (4 - len(words))
        stream = TokenStream(statement, tokens)
        if head[:3] == ["MSCK", "REPAIR", "TABLE"]:
            stream.skip(3)
            return self.msck_repair(statement, stream)
        if head[:2] == ["ALTER", "TABLE"]:
            stream.skip(2)
            return self.alter_table(statement, stream)
        if head[:2] == ["SHOW", "PARTITIONS"]:
            stream.skip(2)
            return self.show_partitions(statement, stream)
        if head[:2] == ["SHOW", "TABLES"]:
            stream.skip(2)
            return self.show_tables(statement, stream)
        if head[:2] in (["SHOW", "DATABASES"], ["SHOW", "SCHEMAS"]):
            stream.skip(2)
            stream.end()
            names = sorted(
                db["Name"]
                for page in self.catalog.glue.get_paginator("get_databases").paginate()
                for db in page["DatabaseList"]
            )
            return ["database_name"], [(name,) for name in names], "UTILITY"
        if head[:2] == ["SHOW", "COLUMNS"] or head[0] in ("DESCRIBE", "DESC"):
            stream.skip(2 if head[0] == "SHOW" else 1)
            if head[0] == "SHOW":
                stream.accept("IN") or stream.accept("FROM")
            return self.describe(statement, stream)
        if head[0] == "SHOW":
            raise statement.unsupported(f"SHOW {head[1]}".strip(), SUPPORTED_HINT)
        if head[:2] == ["CREATE", "EXTERNAL"]:
            raise statement.unsupported(
                "CREATE EXTERNAL TABLE",
                "the raw table is created by the crawler and derived tables by CTAS "
                "(CREATE TABLE ... WITH (...) AS SELECT)",
            )
        if head[0] in (
            "UPDATE",
            "UNLOAD",
            "EXPLAIN",
            "PREPARE",
            "EXECUTE",
        ):
            raise statement.unsupported(f"{head[0]} statement", SUPPORTED_HINT)
        return None

    def drop(self, statement: Statement, drop: exp.Drop) -> Outcome:
        """DROP TABLE [IF EXISTS]: the catalog entry only for a Hive table (Athena keeps an external
        table's data); an Iceberg table loses its data and metadata files too, as on Athena."""
        kind = (drop.args.get("kind") or "").upper()
        if kind not in ("TABLE",):
            raise statement.unsupported(f"DROP {kind}", SUPPORTED_HINT)
        tables = drop.args.get("tables") or [drop.this]
        for table in tables:
            database, name = resolve_table_ref(statement, table)
            # Athena drops the catalog entry of an external table and keeps its data; so does this engine.
            raw = self.catalog.table_definition(database, name)
            try:
                self.catalog.glue.delete_table(DatabaseName=database, Name=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
                if not drop.args.get("exists"):
                    raise statement.fail(f"Table not found {database}.{name} (SemanticException)") from exc
                continue
            if raw is not None and is_iceberg(raw) and self.iceberg is not None:
                location = (raw.get("StorageDescriptor") or {}).get("Location")
                if location:
                    self.iceberg.purge_location(location)
        return [], [], "DDL"

    def msck_repair(self, statement: Statement, stream: TokenStream) -> Outcome:
        """MSCK REPAIR TABLE: register every partition folder under the table location not yet in Glue."""
        database, name = stream.table_name()
        stream.end()
        table = self.catalog.table(statement, database, name)
        if not table.partition_keys:
            return ["result"], [(f"Table {name} is not partitioned; nothing to repair",)], "DDL"
        bucket, prefix = parse_s3_uri(table.location)
        prefix = as_folder(prefix)
        keys = table.key_names
        found: dict[tuple[str, ...], str] = {}
        for obj in list_objects(self.s3, bucket, prefix):
            relative = obj["Key"][len(prefix) :]
            if is_hidden_key(relative):
                continue
            parts = relative.split("/")[:-1]
            if len(parts) < len(keys):
                continue
            values = []
            for key, part in zip(keys, parts, strict=False):
                folder_key, sep, value = part.partition("=")
                if not sep or folder_key.lower() != key:
                    break
                values.append(hive_unescape(value))
            else:
                found.setdefault(tuple(values), prefix + "".join(p + "/" for p in parts[: len(keys)]))
        existing = {p.values for p in self.catalog.partitions(table)}
        missing = sorted(v for v in found if v not in existing)
        if missing:
            inputs = [partition_input(table.raw, values, s3_uri(bucket, found[values])) for values in missing]
            errors = batch_create_partitions(self.catalog.glue, database, name, inputs)
            if errors:
                raise statement.fail(f"MSCK REPAIR TABLE {table.qualified} failed: {'; '.join(errors[:3])}")
        specs = [partition_folder(keys, values).rstrip("/") for values in missing]
        rows = []
        if specs:
            rows.append(("Partitions not in metastore:\t" + "\t".join(f"{name}:{s}" for s in specs),))
            rows.extend((f"Repair: Added partition to metastore {name}:{s}",) for s in specs)
        return ["result"], rows, "DDL"

    def alter_table(self, statement: Statement, stream: TokenStream) -> Outcome:
        """ALTER TABLE t ADD [IF NOT EXISTS] PARTITION ... / DROP [IF EXISTS] PARTITION ...."""
        database, name = stream.table_name()
        action = stream.word()
        if action not in ("ADD", "DROP"):
            raise statement.unsupported(
                f"ALTER TABLE ... {action}", "the local engine runs ADD/DROP PARTITION"
            )
        if_clause = stream.accept("IF")
        if if_clause:
            if action == "ADD":
                stream.expect("NOT")
            stream.expect("EXISTS")
        if stream.peek_word() != "PARTITION":
            raise statement.unsupported(
                f"ALTER TABLE ... {action} {stream.peek_word()}", "only partitions can be added or dropped"
            )
        specs: list[tuple[dict[str, str], str | None]] = []
        while stream.accept("PARTITION"):
            spec = stream.partition_spec()
            location = None
            if action == "ADD" and stream.accept("LOCATION"):
                location = as_folder(validate_s3_uri(stream.string()))
            specs.append((spec, location))
            if action == "DROP":
                stream.accept(",")
        stream.end()
        table = self.catalog.table(statement, database, name)
        keys = table.key_names
        for spec, _ in specs:
            for key, value in spec.items():
                if key not in keys:
                    raise statement.fail(
                        f"partition key {key!r} is not a partition column of {table.qualified} ({keys})"
                    )
                validate_partition_value(key, value)
        existing = {p.values: p for p in self.catalog.partitions(table)}
        if action == "ADD":
            inputs = []
            for spec, location in specs:
                if set(spec) != set(keys):
                    raise statement.fail(
                        f"ADD PARTITION needs a value for every partition key {keys}; got {list(spec)}"
                    )
                values = tuple(spec[k] for k in keys)
                if values in existing or any(values == tuple(i["Values"]) for i in inputs):
                    if if_clause:
                        continue
                    raise statement.fail(
                        f"Partition already exists: {partition_folder(keys, values).rstrip('/')} "
                        "(AlreadyExistsException)"
                    )
                location = location or as_folder(table.location) + partition_folder(keys, values)
                inputs.append(partition_input(table.raw, values, location))
            errors = batch_create_partitions(self.catalog.glue, database, name, inputs)
            if errors:
                raise statement.fail(
                    f"ALTER TABLE {table.qualified} ADD PARTITION failed: {'; '.join(errors[:3])}"
                )
        else:
            doomed: list[tuple[str, ...]] = []
            for spec, _ in specs:
                matches = [v for v in existing if all(v[keys.index(k)] == value for k, value in spec.items())]
                if not matches and not if_clause:
                    raise statement.fail(f"Partition not found: {spec} in {table.qualified}")
                doomed.extend(m for m in matches if m not in doomed)
            errors = batch_delete_partitions(self.catalog.glue, database, name, doomed)
            if errors:
                raise statement.fail(
                    f"ALTER TABLE {table.qualified} DROP PARTITION failed: {'; '.join(errors[:3])}"
                )
        return [], [], "DDL"

    def show_partitions(self, statement: Statement, stream: TokenStream) -> Outcome:
        """SHOW PARTITIONS t: one ``key=value/...`` row per registered partition."""
        database, name = stream.table_name()
        stream.end()
        table = self.catalog.table(statement, database, name)
        if table.is_iceberg:
            raise statement.unsupported(
                f"SHOW PARTITIONS of the Iceberg table {table.qualified}",
                f"Athena refuses it too: query SELECT DISTINCT <partition columns> FROM {table.qualified}",
            )
        if not table.partition_keys:
            raise statement.fail(f"Table {table.qualified} is not partitioned")
        rows = [
            ("/".join(f"{k}={hive_escape(v)}" for k, v in zip(table.key_names, p.values, strict=True)),)
            for p in self.catalog.partitions(table)
        ]
        return ["partition"], rows, "UTILITY"

    def show_tables(self, statement: Statement, stream: TokenStream) -> Outcome:
        """SHOW TABLES [IN db] ['pattern']."""
        database = statement.database
        if stream.accept("IN") or stream.accept("FROM"):
            database = validate_database(stream.word().lower())
        pattern = stream.string() if stream.peek_kind() == "STRING" else None
        stream.end()
        names = []
        for page in self.catalog.glue.get_paginator("get_tables").paginate(DatabaseName=database):
            names.extend(t["Name"] for t in page.get("TableList", []))
        if pattern is not None:
            regex = re.compile("|".join(p.replace("*", ".*") for p in pattern.split("|")), re.IGNORECASE)
            names = [n for n in names if regex.fullmatch(n)]
        return ["tab_name"], [(n,) for n in sorted(names)], "UTILITY"

    def describe(self, statement: Statement, stream: TokenStream) -> Outcome:
        """DESCRIBE t / SHOW COLUMNS IN t: columns, then partition keys."""
        database, name = stream.table_name()
        stream.end()
        table = self.catalog.table(statement, database, name)
        rows = [(c, t, "") for c, t in table.columns]
        rows += [(k, t, "partition key") for k, t in table.partition_keys]
        return ["col_name", "data_type", "comment"], rows, "UTILITY"

    def create_database(self, statement: Statement, create: exp.Create) -> Outcome:
        """CREATE DATABASE / SCHEMA [IF NOT EXISTS]."""
        name = validate_database(create.this.name.lower())
        try:
            self.catalog.glue.create_database(DatabaseInput={"Name": name})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException" or not create.args.get(
                "exists"
            ):
                raise statement.fail(f"Database {name} already exists") from exc
        return [], [], "DDL"
