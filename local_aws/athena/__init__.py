"""The local Athena: DuckDB executing Athena (Trino) SQL over the emulator's Glue catalog and S3.

Only registered partitions are visible, CTAS writes Parquet and registers the table, and Trino's
semantics that DuckDB does not share are kept by a sqlglot dialect. Each construct gives Athena's
value with Athena's type, fails with Athena's TYPE_MISMATCH where Athena refuses an implicit
coercion, or is refused with ``UnsupportedSqlError`` naming it: never a different value. What is
refused locally (section "Refused locally"), the semantics kept, the known differences and the
module map are in ``README.md`` beside this file.
"""

from local_aws.athena.dialect import AthenaOnDuckDB
from local_aws.athena.engine import LocalAthena
from local_aws.athena.errors import LocalQueryError, UnsupportedSqlError
from local_aws.athena.statement import LocalQueryResult

__all__ = ["AthenaOnDuckDB", "LocalAthena", "LocalQueryError", "LocalQueryResult", "UnsupportedSqlError"]
