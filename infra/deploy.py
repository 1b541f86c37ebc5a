"""Deploy tooling for the ``aws`` deployment: Lambda package, artifact bucket and CloudFormation change set.

``run_deploy`` does the whole of ``sales-cdc deploy``:

1. build the transform Lambda's zip from ``lambda_transform/`` deterministically (same code, same bytes,
   same content hash), vendoring ``lambda_transform/requirements.txt`` when there is one;
2. upload it to an encrypted, private artifact bucket under a key that contains the content hash, so a
   code change changes the ``LambdaCodeKey`` parameter and CloudFormation rolls the function;
3. create a change set (CREATE when the stack does not exist yet, UPDATE otherwise) and print it;
   a dry run deletes it and stops, a change set without changes is reported as such;
4. execute it, stream the stack events until the stack settles, and on failure name every failed
   resource with its reason;
5. print the stack outputs and record them with ``sales_cdc.settings.write_outputs(..., "aws")``.

The pieces (``build_lambda_package``, ``ensure_artifact_bucket``, ``StackDeployer``) take boto3 clients
so that tests can hand in clients pointed at the emulator or wrapped in botocore's Stubber.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import cfn

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = cfn.TEMPLATE_PATH
LAMBDA_SOURCE_DIR = ROOT / "lambda_transform"

# Template parameters that deploy sets itself from the uploaded package.
CODE_BUCKET_PARAMETER = "LambdaCodeBucket"
CODE_KEY_PARAMETER = "LambdaCodeKey"
CODE_PARAMETERS = (CODE_BUCKET_PARAMETER, CODE_KEY_PARAMETER)
# The template resource whose Handler must exist in the package.
TRANSFORM_FUNCTION_ID = "TransformFunction"
# The roles have fixed names (RoleName), which CloudFormation only accepts with the NAMED capability.
CAPABILITIES = ("CAPABILITY_NAMED_IAM",)
# CloudFormation's limit for an inline TemplateBody; larger templates go through S3.
MAX_TEMPLATE_BODY_BYTES = 51_200
# Lambda's limit for the unzipped code of a function.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Zip entries get this timestamp so that the archive depends on the content only (zip cannot go earlier).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Lambda's Python runtime the vendored dependencies are resolved for (the template's Runtime is python3.11).
LAMBDA_PYTHON_VERSION = "3.11"
LAMBDA_PLATFORM = "manylinux2014_x86_64"

STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][-A-Za-z0-9]{0,127}$")
BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")
_EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")

Report = Callable[[str], None]


class DeployError(RuntimeError):
    """The deployment cannot go on; the message says what was wrong, the value seen and what to do."""


class StackOperationFailed(DeployError):
    """CloudFormation rolled back; ``failures`` lists the failed resources with their reasons."""

    def __init__(self, message: str, status: str, failures: list[ResourceFailure]) -> None:
        super().__init__(message)
        self.status = status
        self.failures = failures


# --------------------------------------------------------------------------------------------- template


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation template through ``infra.cfn`` (the one template reader), as a DeployError."""
    try:
        return cfn.load_template(path)
    except OSError as exc:
        raise DeployError(
            f"cannot read the template {path}: {exc}; pass --template with a readable file."
        ) from exc
    except cfn.TemplateError as exc:
        raise DeployError(f"{exc}; fix the template or pass --template with another one.") from exc


def template_subset(template: Mapping[str, Any], resource_types: Iterable[str]) -> dict[str, Any]:
    """The template restricted to resources of ``resource_types``, for a CloudFormation that lacks the rest.

    An emulator's CloudFormation implements only some resource types (moto's skips the others, and an
    output that points at a skipped resource fails the stack). Resources of other types are dropped, then
    every resource that refers to a dropped one, until none does; DependsOn entries on dropped resources
    and outputs that refer to them go too. Parameters are kept as they are.
    """
    types = set(resource_types)
    resources = template["Resources"]
    kept = {logical_id for logical_id, resource in resources.items() if resource["Type"] in types}
    while True:
        orphans = {
            logical_id
            for logical_id in kept
            if (cfn.references(resources[logical_id].get("Properties", {})) & set(resources)) - kept
        }
        if not orphans:
            break
        kept -= orphans
    subset: dict[str, Any] = {k: v for k, v in template.items() if k not in ("Resources", "Outputs")}
    subset["Resources"] = {}
    for logical_id in (name for name in resources if name in kept):
        resource = dict(resources[logical_id])
        depends_on = resource.pop("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        if [d for d in depends_on if d in kept]:
            resource["DependsOn"] = [d for d in depends_on if d in kept]
        subset["Resources"][logical_id] = resource
    subset["Outputs"] = {
        name: spec
        for name, spec in (template.get("Outputs") or {}).items()
        if (cfn.references(spec) & set(resources)) <= kept
    }
    return subset


def check_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """Reject parameters the template does not declare and the ones deploy sets itself."""
    declared = set(template.get("Parameters", {}))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise DeployError(
            f"--parameter {', '.join(unknown)}: not a parameter of the template; "
            f"its parameters are {', '.join(sorted(declared))}."
        )
    reserved = sorted(set(parameters) & set(CODE_PARAMETERS))
    if reserved:
        raise DeployError(
            f"--parameter {', '.join(reserved)}: set by deploy from the uploaded Lambda package; "
            "drop it (use --artifact-bucket to choose the bucket)."
        )


def check_handler(template: Mapping[str, Any], source_dir: Path) -> str:
    """Make sure the transform function's Handler names a module that the package will contain."""
    function = template["Resources"].get(TRANSFORM_FUNCTION_ID)
    if function is None:
        raise DeployError(f"the template has no {TRANSFORM_FUNCTION_ID} resource to package code for.")
    handler = function.get("Properties", {}).get("Handler", "")
    module, _, func = str(handler).rpartition(".")
    if not module or not func:
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler is {handler!r}; expected 'package.module.function'."
        )
    parts = module.split(".")
    if parts[0] != source_dir.name:
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler {handler!r} is not in the packaged directory "
            f"{source_dir.name}/."
        )
    module_file = source_dir.joinpath(*parts[1:]).with_suffix(".py")
    if not module_file.is_file():
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler is {handler!r} but {module_file} does not exist; "
            "the function would fail on every invocation. Add the module or fix the Handler."
        )
    return handler


# ------------------------------------------------------------------------------------------ Lambda package


@dataclass(frozen=True)
class LambdaPackage:
    """A built Lambda zip: its bytes, the content hash that names it, and the archive paths in it."""

    name: str
    data: bytes
    sha256: str
    files: tuple[str, ...]
    unzipped_bytes: int

    def s3_key(self, prefix: str) -> str:
        """The content-addressed key of the package under ``prefix`` (one prefix per stack)."""
        return f"{prefix}/lambda/{self.name}-{self.sha256}.zip"


def _tree_files(root: Path, arc_prefix: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in _EXCLUDED_DIRS for part in rel.parts) or not path.is_file():
            continue
        if path.suffix in _EXCLUDED_SUFFIXES:
            continue
        files[f"{arc_prefix}{rel.as_posix()}"] = path
    return files


def build_lambda_package(
    source_dir: Path = LAMBDA_SOURCE_DIR, *, vendor_dir: Path | None = None
) -> LambdaPackage:
    """Zip a Python package for Lambda, deterministically.

    ``source_dir`` goes into the archive under its own name (``lambda_transform/...``), so the handler is
    importable as ``lambda_transform.handler``. ``vendor_dir``, a directory of installed dependencies
    (see ``vendor_requirements``), goes to the archive root, which is on the Lambda runtime's sys.path.
    Entries are sorted, timestamped ``ZIP_TIMESTAMP`` and given mode 0644, and bytecode caches are left
    out, so the same sources give the same bytes. The hash is taken over the entries' names and contents
    (not the compressed bytes), so it does not depend on the zlib build either.
    """
    if not (source_dir / "__init__.py").is_file():
        raise DeployError(f"{source_dir} is not a Python package (no __init__.py); nothing to deploy.")
    files = _tree_files(source_dir, f"{source_dir.name}/")
    if vendor_dir is not None:
        vendored = _tree_files(vendor_dir, "")
        clash = sorted(set(vendored) & set(files))
        if clash:
            raise DeployError(f"vendored files would overwrite the package's own: {', '.join(clash[:5])}.")
        files.update(vendored)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(files):
            content = files[arcname].read_bytes()
            unzipped += len(content)
            digest.update(arcname.encode() + b"\0" + hashlib.sha256(content).digest())
            info = zipfile.ZipInfo(arcname, date_time=ZIP_TIMESTAMP)
            info.create_system = 3  # unix, so the mode below is honoured
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise DeployError(
            f"the Lambda package unzips to {unzipped / 2**20:.0f} MiB, over Lambda's 250 MiB limit; "
            "trim the vendored dependencies."
        )
    return LambdaPackage(
        name=source_dir.name,
        data=buffer.getvalue(),
        sha256=digest.hexdigest(),
        files=tuple(sorted(files)),
        unzipped_bytes=unzipped,
    )


def requirements_file(source_dir: Path) -> Path | None:
    """``<source_dir>/requirements.txt`` when it lists at least one requirement, else None."""
    path = source_dir / "requirements.txt"
    if not path.is_file():
        return None
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return path if any(lines) else None


def vendor_requirements(requirements: Path, target: Path) -> None:
    """Install ``requirements`` into ``target`` as wheels built for Lambda's runtime (not this machine's).

    Binary wheels only, for ``LAMBDA_PLATFORM`` and ``LAMBDA_PYTHON_VERSION``, without bytecode, so the
    result is what the Lambda runtime can import and is reproducible for pinned requirements.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--platform",
        LAMBDA_PLATFORM,
        "--target",
        str(target),
        "--requirement",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(
            f"could not vendor {requirements} for Lambda "
            f"({LAMBDA_PLATFORM}, Python {LAMBDA_PYTHON_VERSION}):\n"
            f"{result.stderr.strip()}\nPin versions that publish wheels for that platform."
        )


def package_lambda(source_dir: Path = LAMBDA_SOURCE_DIR) -> LambdaPackage:
    """Build the deployable package: the source package plus its vendored requirements, if it has any."""
    requirements = requirements_file(source_dir)
    if requirements is None:
        return build_lambda_package(source_dir)
    with tempfile.TemporaryDirectory(prefix="sales-cdc-vendor-") as vendor:
        vendor_requirements(requirements, Path(vendor))
        return build_lambda_package(source_dir, vendor_dir=Path(vendor))


# ---------------------------------------------------------------------------------------- artifact bucket


def default_artifact_bucket(account_id: str, region: str) -> str:
    """The artifact bucket deploy uses when none is given: one per account and region."""
    return f"sales-cdc-artifacts-{account_id}-{region}"


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _error_message(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def tls_only_policy(bucket: str, partition: str = "aws") -> str:
    """A bucket policy denying every request that does not use TLS."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_artifact_bucket(
    s3: Any, bucket: str, region: str, report: Report, *, tls_only: bool = True
) -> bool:
    """Make sure the artifact bucket exists; create it encrypted, private and TLS-only if it does not.

    Returns True when the bucket was created. An existing bucket is used as it is (it may be shared),
    with a warning when it does not block public access. ``tls_only=False`` leaves out the policy that
    denies non-TLS requests, for an endpoint reached over plain http (an emulator), which it would lock out.
    """
    if not BUCKET_NAME_PATTERN.match(bucket):
        raise DeployError(
            f"artifact bucket name {bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, "
            "dots and hyphens); pass --artifact-bucket with a valid name."
        )
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"artifact bucket {bucket!r} exists but these credentials cannot use it (403); bucket "
                "names are global, so pass --artifact-bucket with a bucket your account owns."
            ) from exc
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(f"cannot check artifact bucket {bucket!r}: {_error_message(exc)}") from exc
    else:
        _warn_if_public(s3, bucket, report)
        return False

    tls = ", TLS only" if tls_only else ""
    report(f"creating artifact bucket {bucket} (encrypted, public access blocked{tls})")
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**create)
    except ClientError as exc:
        if _error_code(exc) == "BucketAlreadyOwnedByYou":
            return False
        raise DeployError(
            f"cannot create artifact bucket {bucket!r}: {_error_message(exc)}; "
            "pass --artifact-bucket with a bucket your account owns."
        ) from exc
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    if tls_only:
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, partition_of(region)))
    return True


def _warn_if_public(s3: Any, bucket: str, report: Report) -> None:
    from botocore.exceptions import ClientError

    try:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        config = {}
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    if not all(config.get(key) for key in keys):
        report(
            f"warning: artifact bucket {bucket} does not block all public access; the Lambda code is "
            "uploaded there anyway. Turn on its public access block, or pass --artifact-bucket with a "
            "private bucket."
        )


def upload_artifact(s3: Any, bucket: str, key: str, data: bytes, report: Report) -> bool:
    """Upload ``data`` to ``s3://bucket/key`` encrypted, unless it is there already; True when uploaded.

    Keys are content-addressed, so an existing key already holds these bytes.
    """
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise DeployError(f"cannot check s3://{bucket}/{key}: {_error_message(exc)}") from exc
    else:
        report(f"s3://{bucket}/{key} is already uploaded")
        return False
    s3.put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")
    report(f"uploaded s3://{bucket}/{key} ({len(data) / 1024:.1f} KiB)")
    return True


# ---------------------------------------------------------------------------------------- CloudFormation


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
    return _error_code(exc) == "ValidationError" and "does not exist" in _error_message(exc)


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
        from botocore.exceptions import ClientError

        try:
            return self.cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if _is_missing_stack(exc):
                return None
            raise DeployError(f"cannot describe stack {stack!r}: {_error_message(exc)}") from exc

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
        from botocore.exceptions import ClientError

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
            if _is_no_changes(_error_message(exc)):
                return None, None
            raise DeployError(
                f"CloudFormation refused the change set for stack {stack_name!r}: {_error_message(exc)}"
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


# ------------------------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class DeployRequest:
    """Everything ``sales-cdc deploy`` was asked to do."""

    stack_name: str
    region: str | None = None
    profile: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    artifact_bucket: str | None = None
    dry_run: bool = False
    template_path: Path = TEMPLATE_PATH
    lambda_source: Path = LAMBDA_SOURCE_DIR
    endpoint_url: str | None = None
    timeout: float = 3600.0


@dataclass
class AwsClients:
    """The clients deploy uses, all for one region (and one endpoint in tests)."""

    region: str
    cloudformation: Any
    s3: Any
    sts: Any


def make_clients(region: str | None, profile: str | None, endpoint_url: str | None = None) -> AwsClients:
    """boto3 clients from the profile (or the default credential chain) for the region."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise DeployError(
            f"AWS profile {profile!r} is not configured; run `aws configure --profile {profile}` "
            "or drop --profile."
        ) from exc
    region = region or session.region_name
    if not region:
        raise DeployError("no AWS region: pass --region, or set one in the profile or AWS_DEFAULT_REGION.")
    extra = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return AwsClients(
        region=region,
        cloudformation=session.client("cloudformation", region_name=region, **extra),
        s3=session.client("s3", region_name=region, **extra),
        sts=session.client("sts", region_name=region, **extra),
    )


def _account_id(sts: Any) -> str:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return sts.get_caller_identity()["Account"]
    except NoCredentialsError as exc:
        raise DeployError(
            "no AWS credentials found; pass --profile, or configure credentials "
            "(aws configure / aws sso login)."
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"cannot identify the AWS account of these credentials: {exc}") from exc


def _template_source(
    template_path: Path, clients: AwsClients, bucket: str, stack_name: str, report: Report, tls_only: bool
) -> dict[str, str]:
    body = template_path.read_text()
    size = len(body.encode())
    if size <= MAX_TEMPLATE_BODY_BYTES:
        return {"TemplateBody": body}
    # Too large to send inline: CloudFormation reads it from the artifact bucket instead.
    key = f"{stack_name}/templates/{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    ensure_artifact_bucket(clients.s3, bucket, clients.region, report, tls_only=tls_only)
    upload_artifact(clients.s3, bucket, key, body.encode(), report)
    return {"TemplateURL": f"https://{bucket}.s3.{clients.region}.amazonaws.com/{key}"}


def run_deploy(
    request: DeployRequest,
    *,
    clients: AwsClients | None = None,
    report: Report = print,
    poll_interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    """Package, upload, create/update the stack and record its outputs (see the module docstring)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from sales_cdc.settings import REQUIRED_OUTPUTS, write_outputs

    if not STACK_NAME_PATTERN.match(request.stack_name):
        raise DeployError(
            f"stack name {request.stack_name!r} is not valid: start with a letter, then letters, digits or "
            "hyphens, at most 128 characters."
        )
    template = load_template(request.template_path)
    check_parameters(template, request.parameters)
    if TRANSFORM_FUNCTION_ID in template["Resources"]:
        check_handler(template, request.lambda_source)
    clients = clients or make_clients(request.region, request.profile, request.endpoint_url)
    package = package_lambda(request.lambda_source)
    report(
        f"package {package.name}: {len(package.files)} files, {len(package.data) / 1024:.1f} KiB, "
        f"sha256 {package.sha256[:12]}"
    )
    # A TLS-only bucket policy would deny our own requests to an endpoint spoken to in plain http.
    tls_only = not (request.endpoint_url or "").lower().startswith("http://")
    try:
        bucket = request.artifact_bucket or default_artifact_bucket(_account_id(clients.sts), clients.region)
        key = package.s3_key(request.stack_name)
        if request.dry_run:
            report(f"dry run: the package would be uploaded to s3://{bucket}/{key}")
        else:
            ensure_artifact_bucket(clients.s3, bucket, clients.region, report, tls_only=tls_only)
            upload_artifact(clients.s3, bucket, key, package.data, report)
        parameters = {**request.parameters, CODE_BUCKET_PARAMETER: bucket, CODE_KEY_PARAMETER: key}
        source = _template_source(
            request.template_path, clients, bucket, request.stack_name, report, tls_only
        )
        deployer = StackDeployer(
            clients.cloudformation,
            report=report,
            poll_interval=poll_interval,
            timeout=request.timeout,
            sleep=sleep,
        )
        result = deployer.deploy(
            request.stack_name, source, parameters, region=clients.region, dry_run=request.dry_run
        )
        if request.dry_run:
            return result
        result.outputs = deployer.outputs(request.stack_name)
    except NoCredentialsError as exc:
        raise DeployError(
            "no AWS credentials found; pass --profile, or configure credentials "
            "(aws configure / aws sso login)."
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"AWS refused a deploy step: {_error_message(exc)}") from exc

    report("outputs:")
    for name, value in sorted(result.outputs.items()):
        report(f"  {name} = {value}")
    settings = {**result.outputs, "Region": clients.region, "StackName": request.stack_name}
    result.outputs_path = write_outputs(settings, "aws")
    report(f"recorded the aws deployment settings in {result.outputs_path}")
    missing = [name for name in REQUIRED_OUTPUTS if name not in result.outputs]
    if missing:
        report(
            f"warning: the stack has no output {', '.join(missing)}; Dagster's aws deployment needs them. "
            "Deploy the full template (infra/template.yaml)."
        )
    return result
