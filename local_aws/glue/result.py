"""What a local crawl reports: its result in the terms of Glue's crawl metrics, or a CrawlError."""

from __future__ import annotations

from dataclasses import dataclass, field


class CrawlError(RuntimeError):
    """A local crawl failed; the message says what was wrong and what to do."""


@dataclass
class CrawlResult:
    """What a local crawl did, in the terms of Glue's crawl metrics and logs."""

    crawler_name: str
    database: str
    status: str = "SUCCEEDED"  # Glue LastCrawl status: SUCCEEDED | FAILED | CANCELLED
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    partitions_added: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    partitions_deleted: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    columns_added: dict[str, list[str]] = field(default_factory=dict)
    # Schema changes seen but not applied (UpdateBehavior LOG), and partitions missing in S3
    # (DeleteBehavior LOG).
    changes_logged: list[str] = field(default_factory=list)
    # Folders whose partition values break the declared format (not catalogued), and empty objects
    # (skipped: nothing to read), by key.
    invalid_partitions: list[str] = field(default_factory=list)
    empty_objects: list[str] = field(default_factory=list)
    objects_listed: int = 0
    objects_sampled: int = 0
    warnings: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    crawl_id: str | None = None

    @property
    def partitions_added_count(self) -> int:
        """Partitions added over all tables."""
        return sum(len(values) for values in self.partitions_added.values())

    def summary(self) -> str:
        """One line like a Glue crawler's log summary."""
        return (
            f"crawler {self.crawler_name}: {self.status}; tables created {len(self.tables_created)}, "
            f"updated {len(self.tables_updated)}; partitions added {self.partitions_added_count}; "
            f"columns added {sum(len(c) for c in self.columns_added.values())}; "
            f"objects listed {self.objects_listed}, sampled {self.objects_sampled}"
        )
