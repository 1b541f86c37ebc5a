"""Detecting that Dagster's history describes a lake that no longer exists, and saying so in the UI.

A materialization belongs to the lake whose id it recorded (``lake_id`` metadata, see
:mod:`sales_cdc.lake_identity`). When the current lake has another id, the data that
materialization describes is gone: :func:`lake_reset_report` lists those assets, and
:func:`report_lake_reset` records, for each, a runless observation and a failed evaluation of the
asset's ``materialized_in_this_lake`` check, targeted at the stale materialization, so the asset page
shows "data missing: the lake was reset at ..." instead of green history. Re-materializing the asset
(its check runs with it) makes it current again.

A materialization without ``lake_id`` (an asset that does not record it yet, or history from before
identities existed) counts as stale only when there is proof of a reset - another lake id recorded
by some materialization, or by an earlier detection in this instance - and it is older than the
current lake's marker. Without such proof nothing is flagged, so upgrading never marks live data.

The detection runs once per lake id per instance (the lake id it last ran for is kept in the
instance's key-value store), from the ``lake_identity_sensor`` or ``sales-cdc up``
(:func:`announce_lake_reset`), whichever comes first.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from sales_cdc.lake_identity import LAKE_ID_METADATA_KEY, LakeIdentity, ensure_lake_identity

LAKE_CHECK_NAME = "materialized_in_this_lake"
# Instance key-value entries: the lake id the detection last ran for (once per lake id), and every lake
# id it ever ran for (JSON list: proof that this instance has seen another lake).
REPORTED_LAKE_KEY = "sales_cdc/lake_reset_reported_for"
SEEN_LAKES_KEY = "sales_cdc/lake_ids_seen"


@dataclass(frozen=True)
class LakeMismatch:
    """An asset whose latest materialization was written to another lake than the current one."""

    asset_key: dg.AssetKey
    recorded_lake_id: str | None  # None: the materialization recorded no lake id
    materialized_at: datetime
    run_id: str
    storage_id: int

    def describe(self, current: LakeIdentity) -> str:
        """What the user reads on the asset: what is missing, since when, and what to do."""
        asset = self.asset_key.to_user_string()
        written_to = f"lake {self.recorded_lake_id}" if self.recorded_lake_id else "an earlier lake"
        return (
            f"data missing: the lake was reset at {current.created_at.isoformat(timespec='seconds')} "
            f"(now lake {current.lake_id}); the latest materialization of {asset} "
            f"({self.materialized_at.isoformat(timespec='seconds')}, run {self.run_id[:8]}) was written to "
            f"{written_to}, whose data is gone: re-materialize {asset}"
        )

    def metadata(self, current: LakeIdentity) -> dict[str, dg.MetadataValue]:
        """Metadata of the observation and the failed check."""
        return {
            "current_lake_id": dg.MetadataValue.text(current.lake_id),
            "lake_created_at": dg.MetadataValue.text(current.created_at.isoformat()),
            "materialized_lake_id": dg.MetadataValue.text(self.recorded_lake_id or "none recorded"),
            "stale_materialization_at": dg.MetadataValue.text(self.materialized_at.isoformat()),
            "stale_materialization_run": dg.MetadataValue.text(self.run_id),
        }


def _recorded_lake_id(record: Any) -> str | None:
    materialization = record.event_log_entry.asset_materialization
    value = (materialization.metadata or {}).get(LAKE_ID_METADATA_KEY) if materialization else None
    return None if value is None else str(value.value)


def _reported_lake_id(instance: dg.DagsterInstance) -> str | None:
    return instance.run_storage.get_cursor_values({REPORTED_LAKE_KEY}).get(REPORTED_LAKE_KEY)


def _seen_lake_ids(instance: dg.DagsterInstance) -> list[str]:
    value = instance.run_storage.get_cursor_values({SEEN_LAKES_KEY}).get(SEEN_LAKES_KEY)
    try:
        seen = json.loads(value) if value else []
    except ValueError:  # a damaged entry only weakens the proof of a reset; it is rewritten below
        seen = []
    return [str(lake_id) for lake_id in seen] if isinstance(seen, list) else []


def _remember_lake(instance: dg.DagsterInstance, lake_id: str) -> None:
    seen = _seen_lake_ids(instance)
    if lake_id not in seen:
        seen.append(lake_id)
    instance.run_storage.set_cursor_values({REPORTED_LAKE_KEY: lake_id, SEEN_LAKES_KEY: json.dumps(seen)})


def lake_reset_report(
    instance: dg.DagsterInstance, current: LakeIdentity, asset_keys: Collection[dg.AssetKey] | None = None
) -> list[LakeMismatch]:
    """The assets (of ``asset_keys``, default all) whose latest materialization is of another lake.

    Different ``lake_id`` -> stale. Missing ``lake_id`` -> stale when a reset is proven (another lake
    id recorded by a materialization, or seen by an earlier detection) and it predates the current lake.
    """
    latest = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record
        for record in instance.get_asset_records()
        if record.asset_entry.last_materialization_record is not None
    }
    recorded = {key: _recorded_lake_id(record) for key, record in latest.items()}
    reset_proven = any(lake_id != current.lake_id for lake_id in _seen_lake_ids(instance)) or any(
        lake_id not in (None, current.lake_id) for lake_id in recorded.values()
    )
    mismatches = []
    for key, record in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        if asset_keys is not None and key not in asset_keys:
            continue
        lake_id = recorded[key]
        materialized_at = datetime.fromtimestamp(record.timestamp, UTC)
        stale = (
            lake_id != current.lake_id
            if lake_id is not None
            else reset_proven and materialized_at < current.created_at
        )
        if stale:
            mismatches.append(
                LakeMismatch(key, lake_id, materialized_at, record.event_log_entry.run_id, record.storage_id)
            )
    return mismatches


def lake_reset_events(
    mismatches: Sequence[LakeMismatch], current: LakeIdentity, checked_assets: Collection[dg.AssetKey]
) -> list[dg.AssetObservation | dg.AssetCheckEvaluation]:
    """For each mismatch an observation, and a failed ``materialized_in_this_lake`` evaluation aimed
    at the stale materialization when the asset has that check (``checked_assets``)."""
    events: list[dg.AssetObservation | dg.AssetCheckEvaluation] = []
    for mismatch in mismatches:
        description = mismatch.describe(current)
        metadata = mismatch.metadata(current)
        events.append(dg.AssetObservation(mismatch.asset_key, description=description, metadata=metadata))
        if mismatch.asset_key in checked_assets:
            events.append(
                dg.AssetCheckEvaluation(
                    asset_key=mismatch.asset_key,
                    check_name=LAKE_CHECK_NAME,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=description,
                    metadata=metadata,
                    # Aimed at the stale materialization: the UI then shows the failure as the
                    # check's result for the asset's latest materialization.
                    target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                        storage_id=mismatch.storage_id,
                        run_id=mismatch.run_id,
                        timestamp=mismatch.materialized_at.timestamp(),
                    ),
                )
            )
    return events


def report_lake_reset(
    instance: dg.DagsterInstance, current: LakeIdentity, checked_assets: Collection[dg.AssetKey]
) -> list[LakeMismatch] | None:
    """Detect and record (runless events) once per lake id; None when already done for this lake."""
    if _reported_lake_id(instance) == current.lake_id:
        return None
    mismatches = lake_reset_report(instance, current)
    for event in lake_reset_events(mismatches, current, checked_assets):
        instance.report_runless_asset_event(event)
    _remember_lake(instance, current.lake_id)
    return mismatches


def check_materialized_in_this_lake(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, current: LakeIdentity
) -> dg.AssetCheckResult:
    """Pass when the asset's latest materialization belongs to the current lake (or there is none)."""
    mismatch = next(iter(lake_reset_report(instance, current, asset_keys={asset_key})), None)
    metadata = {"current_lake_id": dg.MetadataValue.text(current.lake_id)}
    if mismatch is None:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"the latest materialization belongs to the current lake {current.lake_id}",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=mismatch.describe(current),
        metadata=mismatch.metadata(current),
    )


def reset_lines(mismatches: Sequence[LakeMismatch], current: LakeIdentity) -> list[str]:
    """The report as lines for a terminal."""
    stamp = current.created_at.isoformat(timespec="seconds")
    if not mismatches:
        return [f"Lake {current.lake_id} (since {stamp}): Dagster's history matches it."]
    lines = [
        f"The lake was reset at {stamp} (now lake {current.lake_id}): the data of {len(mismatches)} "
        "materialized asset(s) is gone, and the Dagster UI marks them (check materialized_in_this_lake):"
    ]
    lines += [
        f"  - {m.asset_key.to_user_string()}: materialized {m.materialized_at.isoformat(timespec='seconds')} "
        f"in {('lake ' + m.recorded_lake_id) if m.recorded_lake_id else 'an earlier lake'}"
        for m in mismatches
    ]
    lines.append(
        "Materialize them again (orders first; the sensor refreshes the summaries), or wipe the lake and "
        "the history together with `sales-cdc local reset`."
    )
    return lines


def announce_lake_reset(
    instance: dg.DagsterInstance,
    s3: Any,
    bucket: str,
    checked_assets: Collection[dg.AssetKey] | None = None,
) -> list[str]:
    """Lines for ``sales-cdc up`` to print: whether Dagster's history matches the lake, and if not which
    assets lost their data. Records the UI's warnings once per lake id (as the sensor does)."""
    from sales_cdc.health.lake_checks import LAKE_ASSETS  # the checks import this module

    current = ensure_lake_identity(s3, bucket)
    keys = set(LAKE_ASSETS) if checked_assets is None else set(checked_assets)
    mismatches = report_lake_reset(instance, current, keys)
    if mismatches is None:  # already recorded for this lake (by the sensor): report, do not record again
        mismatches = lake_reset_report(instance, current)
    return reset_lines(mismatches, current)
