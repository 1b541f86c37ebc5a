"""DynamoDB Streams ``GetRecords`` on the wire, for the local Pipe's reader (botocore parses too slowly)."""

from __future__ import annotations

from typing import Any

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, EndpointConnectionError

READ_TIMEOUT_S = 120.0


class WireGetRecords:
    """DynamoDB Streams ``GetRecords`` sent as a SigV4-signed request, its answer parsed with orjson.

    The reader spends its life in this call, and what matters is how soon the next one goes out:
    botocore's response parser needs 0.1-0.3 s per 1000 records (the emulator's Streams path idles
    meanwhile) where orjson needs about 10 ms. The answer keeps the wire shape
    (``ApproximateCreationDateTime`` as epoch seconds, binary values as base64), which is also what the
    Pipe forwards. Errors become the ClientError / BotoCoreError boto3 would raise.
    """

    TARGET = "DynamoDBStreams_20120810.GetRecords"

    def __init__(self, endpoint_url: str, region: str, credentials: Any) -> None:
        self._url = endpoint_url.rstrip("/") + "/"
        self._signer = SigV4Auth(credentials, "dynamodb", region)
        self._http = urllib3.PoolManager(
            maxsize=2, retries=False, timeout=urllib3.Timeout(connect=5.0, read=READ_TIMEOUT_S)
        )

    def __call__(self, iterator: str, limit: int) -> dict[str, Any]:
        request = AWSRequest(
            method="POST",
            url=self._url,
            data=orjson.dumps({"ShardIterator": iterator, "Limit": limit}),
            headers={"X-Amz-Target": self.TARGET, "Content-Type": "application/x-amz-json-1.0"},
        )
        self._signer.add_auth(request)
        try:
            response = self._http.request(
                "POST",
                self._url,
                body=request.body,
                headers=dict(request.headers.items()),
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise EndpointConnectionError(endpoint_url=self._url, error=exc) from exc
        try:
            answer = orjson.loads(response.data) if response.data else {}
        except orjson.JSONDecodeError:
            answer = {}
        if response.status != 200:
            code = str(answer.get("__type", f"HTTP{response.status}")).rsplit("#", 1)[-1]
            message = (
                answer.get("message") or answer.get("Message") or response.data[:200].decode(errors="replace")
            )
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": response.status},
                },
                "GetRecords",
            )
        return answer
