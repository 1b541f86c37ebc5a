"""Deploy tooling for the ``aws`` deployment: Lambda package, artifact bucket and CloudFormation change set.

``run_deploy`` (in ``run``) does the whole of ``sales-cdc deploy``. The pieces take boto3 clients so that
tests can hand in clients pointed at the emulator or wrapped in botocore's Stubber:

- ``package``: the transform Lambda's deterministic, content-addressed zip (``build_lambda_package``);
- ``artifacts``: the encrypted, private artifact bucket and uploads to it (``ensure_artifact_bucket``);
- ``stack``: the change-set deployer (``StackDeployer``) and how its progress and failures read;
- ``template``: the checks deploy makes on the template, and the subset an emulator can create.

It imports neither the application nor the embedded AWS: what the application needs (where to record
the outputs, which outputs it requires) comes in the ``DeployRequest``.
"""

from infra.deploy.artifacts import (
    default_artifact_bucket,
    ensure_artifact_bucket,
    partition_of,
    tls_only_policy,
    upload_artifact,
)
from infra.deploy.errors import DeployError
from infra.deploy.package import (
    LAMBDA_SOURCE_DIR,
    ZIP_TIMESTAMP,
    LambdaPackage,
    build_lambda_package,
    package_lambda,
    requirements_file,
    vendor_requirements,
)
from infra.deploy.run import AwsClients, DeployRequest, make_clients, run_deploy
from infra.deploy.stack import (
    DeployResult,
    ResourceChange,
    ResourceFailure,
    StackDeployer,
    StackOperationFailed,
    failures_from_events,
    format_changes,
    format_event,
)
from infra.deploy.template import (
    TEMPLATE_PATH,
    check_handler,
    check_parameters,
    load_template,
    template_subset,
)

__all__ = [
    "LAMBDA_SOURCE_DIR",
    "TEMPLATE_PATH",
    "ZIP_TIMESTAMP",
    "AwsClients",
    "DeployError",
    "DeployRequest",
    "DeployResult",
    "LambdaPackage",
    "ResourceChange",
    "ResourceFailure",
    "StackDeployer",
    "StackOperationFailed",
    "build_lambda_package",
    "check_handler",
    "check_parameters",
    "default_artifact_bucket",
    "ensure_artifact_bucket",
    "failures_from_events",
    "format_changes",
    "format_event",
    "load_template",
    "make_clients",
    "package_lambda",
    "partition_of",
    "requirements_file",
    "run_deploy",
    "template_subset",
    "tls_only_policy",
    "upload_artifact",
    "vendor_requirements",
]
