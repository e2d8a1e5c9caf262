"""A study's results: the Parquet schema (every column, versioned) and the append-only store."""

from orchestrator.results.schema import ARM_KEY_NAMES, FIXED_COLUMNS, SCHEMA_VERSION, TABLES, table_schemas
from orchestrator.results.store import ResultsStore, read_table

__all__ = ["ARM_KEY_NAMES", "FIXED_COLUMNS", "SCHEMA_VERSION", "TABLES", "ResultsStore", "read_table", "table_schemas"]
