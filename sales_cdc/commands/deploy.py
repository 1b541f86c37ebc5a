"""``sales-cdc deploy``: package the transform Lambda and create or update the AWS stack.

The work is done by ``infra.deploy.run_deploy``; this module parses the options, says where the
application reads the ``aws`` deployment's outputs and which it needs, and turns deploy errors into
a message and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path

import click

from infra.deploy import TEMPLATE_PATH, DeployError, DeployRequest, run_deploy
from sales_cdc.settings import REQUIRED_OUTPUTS, outputs_path


def _parse_parameters(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` options to a dict; a value may itself contain ``=``."""
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. ChangeStreamShardCount=2).")
        if key.strip() in parsed:
            raise click.BadParameter(f"{key.strip()} is given twice; give each parameter once.")
        parsed[key.strip()] = value
    return parsed


@click.command("deploy")
@click.option("--stack-name", required=True, help="CloudFormation stack to create or update.")
@click.option("--region", default=None, help="AWS region (default: the profile's, or AWS_DEFAULT_REGION).")
@click.option("--profile", default=None, help="Named AWS profile (default: the standard credential chain).")
@click.option("--dry-run", is_flag=True, help="Print the change set, delete it and stop; nothing is changed.")
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_parameters,
    help="Template parameter override, repeatable. On updates, parameters not given keep their value.",
)
@click.option(
    "--artifact-bucket",
    default=None,
    help="Bucket for the Lambda package (default: sales-cdc-artifacts-<account>-<region>, created).",
)
@click.option(
    "--template",
    "template_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=TEMPLATE_PATH,
    show_default=True,
    help="CloudFormation template to deploy.",
)
@click.option(
    "--endpoint-url", default=None, help="AWS endpoint to use instead of AWS's (an emulator, in tests)."
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Minutes to wait for the stack.",
)
@click.pass_context
def deploy(
    ctx: click.Context,
    stack_name: str,
    region: str | None,
    profile: str | None,
    dry_run: bool,
    parameters: dict[str, str],
    artifact_bucket: str | None,
    template_path: Path,
    endpoint_url: str | None,
    timeout: int,
) -> None:
    """Deploy the stack to AWS and record its outputs as the `aws` deployment's settings.

    Builds the transform Lambda package, uploads it to the artifact bucket, creates a change set,
    shows it, executes it (unless --dry-run) while streaming stack events, then prints the outputs.
    """
    request = DeployRequest(
        stack_name=stack_name,
        region=region,
        profile=profile,
        parameters=parameters,
        artifact_bucket=artifact_bucket,
        dry_run=dry_run,
        template_path=template_path,
        endpoint_url=endpoint_url,
        timeout=timeout * 60.0,
        outputs_path=outputs_path("aws"),
        required_outputs=REQUIRED_OUTPUTS,
    )
    # Tests may hand in ready-made clients (e.g. wrapped in botocore's Stubber) through the context object.
    clients = (ctx.obj or {}).get("aws_clients") if isinstance(ctx.obj, dict) else None
    poll = (ctx.obj or {}).get("poll_interval", 5.0) if isinstance(ctx.obj, dict) else 5.0
    try:
        run_deploy(request, clients=clients, report=click.echo, poll_interval=poll)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
