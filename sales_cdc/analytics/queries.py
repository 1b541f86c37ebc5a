"""The analytics group's SQL: the files in ``sql/`` next to this module, rendered by
:class:`sales_cdc.sql_templates.SqlFolder`.

``render("sales_daily", database=..., ...)`` gives the statement with every placeholder validated.
"""

from __future__ import annotations

from pathlib import Path

from sales_cdc.sql_templates import SqlFolder

ANALYTICS_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")

render = ANALYTICS_SQL.render
sql_files = ANALYTICS_SQL.sql_files
placeholders = ANALYTICS_SQL.placeholders
