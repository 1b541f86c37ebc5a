"""The in-process Lambda runtime: a deployed function resolved to its handler."""

from __future__ import annotations

import pytest

from local_aws.lambda_runtime import LambdaConfigError, LambdaFunction


def test_the_handler_is_resolved_from_the_function_configuration() -> None:
    configuration = {
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:t",
        "FunctionName": "t",
        "Handler": "lambda_transform.handler.handler",
        "Timeout": 120,
    }
    function = LambdaFunction(configuration)
    assert function.handler.__module__ == "lambda_transform.handler"
    with pytest.raises(LambdaConfigError, match="cannot import handler module 'no_such_module'"):
        LambdaFunction({**configuration, "Handler": "no_such_module.handler"})
    with pytest.raises(LambdaConfigError, match="module.function"):
        LambdaFunction({**configuration, "Handler": "handler"})
