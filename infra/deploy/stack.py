"""The change-set deployer: create or update one stack, print the change set, stream its events,
and name every failed resource with CloudFormation's reason when it rolls back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.deploy.errors import DeployError, Report, error_code, error_message

# The roles have fixed names (RoleName), which CloudFormation only accepts with the NAMED capability.
CAPABILITIES = ("CAPABILITY_NAMED_IAM",)
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")


class StackOperationFailed(DeployError):
    """CloudFormation rolled back; ``failures`` lists the failed resources with their reasons."""

    def __init__(self, message: str, status: str, failures: list[ResourceFailure]) -> None:
        super().__init__(message)
        self.status = status
        self.failures = failures


@dataclass(frozen=True)
class ResourceChange:
    """One line of a change set: what CloudFormation will do to which resource."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str

    @classmethod
    def from_api(cls, change: Mapping[str, Any]) -> ResourceChange:
        """From one entry of describe_change_set's ``Changes``."""
        resource = change.get("ResourceChange", {})
        return cls(
            action=resource.get("Action", change.get("Type", "?")),
            logical_id=resource.get("LogicalResourceId", "?"),
            resource_type=resource.get("ResourceType", "?"),
            replacement=str(resource.get("Replacement") or "-"),
        )


@dataclass(frozen=True)
class ResourceFailure:
    """A failed stack event: the resource's logical id, type, status and CloudFormation's reason."""

    logical_id: str
    resource_type: str
    status: str
    reason: str

    def __str__(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.status}: {self.reason}"


@dataclass
class DeployResult:
    """What a deploy did: the change set type and changes, whether it ran, the stack's outputs."""

    stack_name: str
    change_set_type: str
    changes: list[ResourceChange] = field(default_factory=list)
    no_changes: bool = False
    executed: bool = False
    status: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    outputs_path: Path | None = None


def format_changes(changes: Iterable[ResourceChange]) -> list[str]:
    """The change set as an aligned table (action, logical id, type, replacement)."""
    rows = [("ACTION", "RESOURCE", "TYPE", "REPLACEMENT")]
    rows += [(c.action, c.logical_id, c.resource_type, c.replacement) for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def format_event(event: Mapping[str, Any]) -> str:
    """One stack event as a progress line."""
    stamp = event.get("Timestamp")
    when = stamp.strftime("%H:%M:%S") if hasattr(stamp, "strftime") else str(stamp or "")
    line = (
        f"  {when}  {event.get('ResourceStatus', '?'):<28} {event.get('LogicalResourceId', '?')} "
        f"({event.get('ResourceType', '?')})"
    )
    reason = event.get("ResourceStatusReason")
    return f"{line}  {reason}" if reason else line


def failures_from_events(events: Iterable[Mapping[str, Any]], stack_name: str) -> list[ResourceFailure]:
    """The failures behind a rollback, root causes first.

    Resource events ending in ``_FAILED`` are kept; the ones CloudFormation cancelled because another
    resource failed come after the root causes. The stack's own failed events are used only when no
    resource failed (e.g. a missing capability).
    """
    failed = [
        ResourceFailure(
            logical_id=str(e.get("LogicalResourceId", "?")),
            resource_type=str(e.get("ResourceType", "?")),
            status=str(e.get("ResourceStatus", "?")),
            reason=str(e.get("ResourceStatusReason") or "no reason given"),
        )
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("_FAILED")
    ]
    resources = [
        f
        for f in failed
        if not (f.resource_type == "AWS::CloudFormation::Stack" and f.logical_id == stack_name)
    ]
    if not resources:
        return failed
    causes = [f for f in resources if "cancelled" not in f.reason.lower()]
    return causes + [f for f in resources if f not in causes]


def _is_missing_stack(exc: Exception) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def _is_no_changes(reason: str | None) -> bool:
    return any(marker in (reason or "") for marker in NO_CHANGES_MARKERS)


class StackDeployer:
    """Creates or updates one stack through a change set, reporting progress through ``report``.

    ``poll_interval`` and ``sleep`` set the pace of polling (tests pass 0 and a no-op); ``timeout`` bounds
    the wait for the stack to settle.
    """

    def __init__(
        self,
        cloudformation: Any,
        *,
        report: Report = print,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfn = cloudformation
        self.report = report
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock

    # -------------------------------------------------------------- stack state

    def describe_stack(self, stack: str) -> dict[str, Any] | None:
        """The stack's description, or None when there is no such stack."""
        try:
            return self.cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if _is_missing_stack(exc):
                return None
            raise DeployError(f"cannot describe stack {stack!r}: {error_message(exc)}") from exc

    def change_set_type(self, stack_name: str, stack: Mapping[str, Any] | None, region: str) -> str:
        """CREATE or UPDATE for a stack in its current state, or an error saying how to unblock it."""
        if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            return "CREATE"
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            raise DeployError(
                f"stack {stack_name!r} is ROLLBACK_COMPLETE: its creation failed and it cannot be updated. "
                f"Delete it (aws cloudformation delete-stack --stack-name {stack_name} --region {region}) "
                "and deploy again."
            )
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(
                f"stack {stack_name!r} is busy ({status}); wait until that operation finishes and "
                "deploy again."
            )
        if status.endswith("_FAILED"):
            raise DeployError(
                f"stack {stack_name!r} is {status} ({stack.get('StackStatusReason', 'no reason given')}); "
                "repair it in the CloudFormation console (e.g. continue the rollback) and deploy again."
            )
        return "UPDATE"

    def outputs(self, stack: str) -> dict[str, str]:
        """The stack's outputs as a name → value mapping."""
        description = self.describe_stack(stack) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}

    # -------------------------------------------------------------- change set

    def _parameters(
        self, parameters: Mapping[str, str], existing: Mapping[str, Any] | None, change_set_type: str
    ) -> list[dict[str, Any]]:
        given = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(parameters.items())]
        if change_set_type == "CREATE" or existing is None:
            return given
        # Like `aws cloudformation deploy`: a parameter not given keeps its deployed value, not the default.
        previous = sorted(
            p["ParameterKey"] for p in existing.get("Parameters", []) if p["ParameterKey"] not in parameters
        )
        return given + [{"ParameterKey": k, "UsePreviousValue": True} for k in previous]

    def create_change_set(
        self,
        stack_name: str,
        template: Mapping[str, str],
        parameters: list[dict[str, Any]],
        change_set_type: str,
        change_set_name: str,
    ) -> tuple[str | None, str | None]:
        """Create the change set; returns (change set id, stack id), or (None, None) when nothing changed."""
        try:
            response = self.cfn.create_change_set(
                StackName=stack_name,
                ChangeSetName=change_set_name,
                ChangeSetType=change_set_type,
                Parameters=parameters,
                Capabilities=list(CAPABILITIES),
                Description="sales-cdc deploy",
                **template,
            )
        except ClientError as exc:
            if _is_no_changes(error_message(exc)):
                return None, None
            raise DeployError(
                f"CloudFormation refused the change set for stack {stack_name!r}: {error_message(exc)}"
            ) from exc
        return response["Id"], response.get("StackId")

    def wait_for_change_set(self, change_set_id: str, stack_name: str) -> tuple[list[ResourceChange], bool]:
        """Wait until the change set is computed; returns (changes, no_changes)."""
        deadline = self.clock() + self.timeout
        while True:
            description = self.cfn.describe_change_set(ChangeSetName=change_set_id)
            status = description.get("Status")
            if status == "CREATE_COMPLETE":
                changes = [ResourceChange.from_api(c) for c in description.get("Changes", [])]
                token = description.get("NextToken")
                while token:
                    page = self.cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
                    changes += [ResourceChange.from_api(c) for c in page.get("Changes", [])]
                    token = page.get("NextToken")
                return changes, False
            if status == "FAILED":
                reason = description.get("StatusReason")
                if _is_no_changes(reason):
                    return [], True
                raise DeployError(
                    f"the change set for stack {stack_name!r} failed: {reason or 'no reason given'}"
                )
            if status not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                raise DeployError(
                    f"the change set for stack {stack_name!r} is {status}, not being created; "
                    "someone else may have deleted or executed it. Deploy again."
                )
            if self.clock() > deadline:
                raise DeployError(
                    f"the change set for stack {stack_name!r} is still {status} after {self.timeout:.0f} s."
                )
            self.sleep(self.poll_interval)

    # -------------------------------------------------------------- execution

    def _new_events(self, stack_id: str, seen: set[str], stop_at: str | None) -> list[dict[str, Any]]:
        """Events after ``stop_at`` not reported yet, oldest first (the API lists newest first)."""
        new: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"StackName": stack_id}
            if token:
                kwargs["NextToken"] = token
            page = self.cfn.describe_stack_events(**kwargs)
            for event in page.get("StackEvents", []):
                if event["EventId"] == stop_at or event["EventId"] in seen:
                    return new[::-1]
                new.append(event)
            token = page.get("NextToken")
            if not token:
                return new[::-1]

    def latest_event_id(self, stack_id: str) -> str | None:
        """The id of the stack's newest event, the marker after which progress is reported."""
        events = self.cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
        return events[0]["EventId"] if events else None

    def execute_and_wait(
        self, stack_name: str, stack_id: str, change_set_id: str, change_set_type: str
    ) -> str:
        """Execute the change set, stream events until the stack settles; returns the final status."""
        marker = self.latest_event_id(stack_id)
        self.cfn.execute_change_set(ChangeSetName=change_set_id, StackName=stack_id)
        self.report(f"executing {change_set_type} of stack {stack_name}:")
        seen: set[str] = set()
        events: list[dict[str, Any]] = []
        deadline = self.clock() + self.timeout
        while True:
            fresh = self._new_events(stack_id, seen, marker)
            for event in fresh:
                seen.add(event["EventId"])
                events.append(event)
                self.report(format_event(event))
            stack = self.describe_stack(stack_id) or {}
            status = stack.get("StackStatus", "?")
            if not status.endswith("_IN_PROGRESS"):
                for event in self._new_events(stack_id, seen, marker):
                    events.append(event)
                    self.report(format_event(event))
                break
            if self.clock() > deadline:
                raise DeployError(
                    f"stack {stack_name!r} is still {status} after {self.timeout / 60:.0f} min; "
                    "CloudFormation carries on: follow it in the console and run deploy again when it "
                    "has settled."
                )
            self.sleep(self.poll_interval)
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return status
        failures = failures_from_events(events, stack_name)
        raise StackOperationFailed(
            self._failure_message(stack_name, change_set_type, status, failures), status, failures
        )

    @staticmethod
    def _failure_message(
        stack_name: str, change_set_type: str, status: str, failures: list[ResourceFailure]
    ) -> str:
        lines = [f"{change_set_type} of stack {stack_name!r} failed; the stack is now {status}."]
        lines += [f"  {failure}" for failure in failures] or [
            "  (CloudFormation reported no failed resource)"
        ]
        if status == "ROLLBACK_COMPLETE":
            lines.append(
                "Fix the cause above, delete the stack (aws cloudformation delete-stack --stack-name "
                f"{stack_name}) and deploy again."
            )
        elif status == "UPDATE_ROLLBACK_COMPLETE":
            lines.append("The stack is back at its previous version; fix the cause above and deploy again.")
        else:
            lines.append(
                "Fix the cause above; the stack may need repair in the CloudFormation console first."
            )
        return "\n".join(lines)

    # -------------------------------------------------------------- the whole flow

    def deploy(
        self,
        stack_name: str,
        template: Mapping[str, str],
        parameters: Mapping[str, str],
        *,
        region: str,
        dry_run: bool = False,
        change_set_name: str | None = None,
    ) -> DeployResult:
        """Create or update ``stack_name`` through a change set (printed; only printed when ``dry_run``).

        ``template`` is ``{"TemplateBody": text}`` or ``{"TemplateURL": url}``.
        """
        existing = self.describe_stack(stack_name)
        change_set_type = self.change_set_type(stack_name, existing, region)
        name = (
            change_set_name
            or f"sales-cdc-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        )
        result = DeployResult(stack_name=stack_name, change_set_type=change_set_type)
        change_set_id, stack_id = self.create_change_set(
            stack_name,
            template,
            self._parameters(parameters, existing, change_set_type),
            change_set_type,
            name,
        )
        if change_set_id is not None:
            result.changes, result.no_changes = self.wait_for_change_set(change_set_id, stack_name)
        else:
            result.no_changes = True
        if result.no_changes:
            if change_set_id is not None:
                self.cfn.delete_change_set(ChangeSetName=change_set_id)
            self.report(f"no changes: stack {stack_name} is up to date.")
            result.status = existing["StackStatus"] if existing else None
            return result
        self.report(
            f"change set {name} ({change_set_type}) for stack {stack_name}: {len(result.changes)} change(s)"
        )
        for line in format_changes(result.changes):
            self.report(line)
        if dry_run:
            self.cfn.delete_change_set(ChangeSetName=change_set_id)
            if existing is None:
                # The CREATE change set made an empty REVIEW_IN_PROGRESS stack; leave nothing behind.
                self.cfn.delete_stack(StackName=stack_id or stack_name)
            self.report("dry run: change set deleted, nothing was changed.")
            return result
        result.status = self.execute_and_wait(
            stack_name, stack_id or stack_name, change_set_id, change_set_type
        )
        result.executed = True
        self.report(f"stack {stack_name} is {result.status}")
        return result
