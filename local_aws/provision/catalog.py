"""Appliers for the catalog and its query engine: the Glue database and crawler, the Athena workgroup."""

from __future__ import annotations

from typing import Any

from local_aws.provision.common import Applied, Clients, describe_or_none, typed, update_or_delete


def glue_database(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Glue::Database."""
    database = p["DatabaseInput"]
    name = database["Name"]
    exists = describe_or_none(lambda: c.glue.get_database(Name=name), "EntityNotFoundException") is not None
    if exists_only:
        return Applied(name) if exists else None
    if exists:
        c.glue.update_database(Name=name, DatabaseInput=database)
    else:
        c.glue.create_database(DatabaseInput=database)
    return Applied(name)


def glue_crawler(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Glue::Crawler: targets, policies, configuration and schedule (the local crawler reads them)."""
    name = p["Name"]
    exists = describe_or_none(lambda: c.glue.get_crawler(Name=name), "EntityNotFoundException") is not None
    if exists_only:
        return Applied(name) if exists else None
    kwargs = {
        "Name": name,
        "Role": p["Role"],
        "DatabaseName": p["DatabaseName"],
        "Description": p.get("Description", ""),
        "Targets": typed(p["Targets"]),
        "SchemaChangePolicy": p.get("SchemaChangePolicy", {}),
        "RecrawlPolicy": p.get("RecrawlPolicy", {}),
        "Configuration": p.get("Configuration", ""),
    }
    if "Schedule" in p:
        kwargs["Schedule"] = p["Schedule"]["ScheduleExpression"]
    if exists and update_or_delete(
        lambda: c.glue.update_crawler(**kwargs), lambda: c.glue.delete_crawler(Name=name)
    ):
        return Applied(name)
    c.glue.create_crawler(**kwargs)
    return Applied(name)


def athena_workgroup(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Athena::WorkGroup: result location, scan limit and enforcement."""
    name = p["Name"]
    # Athena answers InvalidRequestException for a workgroup that does not exist.
    found = describe_or_none(lambda: c.athena.get_work_group(WorkGroup=name), "InvalidRequestException")
    exists = bool(found and found.get("WorkGroup"))
    if exists_only:
        return Applied(name) if exists else None
    config = typed(p.get("WorkGroupConfiguration", {}))
    description = p.get("Description", "")
    if exists:
        update = {key: value for key, value in config.items() if key != "ResultConfiguration"}
        if "ResultConfiguration" in config:
            update["ResultConfigurationUpdates"] = config["ResultConfiguration"]
        if update_or_delete(
            lambda: c.athena.update_work_group(
                WorkGroup=name,
                Description=description,
                ConfigurationUpdates=update,
                State=p.get("State", "ENABLED"),
            ),
            lambda: c.athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True),
        ):
            return Applied(name)
    c.athena.create_work_group(Name=name, Description=description, Configuration=config)
    return Applied(name)


APPLIERS = {
    "AWS::Glue::Database": glue_database,
    "AWS::Glue::Crawler": glue_crawler,
    "AWS::Athena::WorkGroup": athena_workgroup,
}
