"""Why a record was not transformed: the reason travels with its recordId into the logs.

Firehose writes a ProcessingFailed record to the error prefix with its original data but with its
own generic error code (``Lambda.ProcessingFailedStatus``); the response has no field for our
reason. So the reason is logged with the recordId, and returned by
:func:`lambda_transform.batch.transform_batch` for callers that want it (tests, the local data plane).

A reason is ``"<code>: <detail>"``: ``code`` is a short stable identifier (counted in the summary
log line), ``detail`` says what was wrong, the value seen (truncated) and what to do.

Codes:

====================  ============================================================================
missing_data          the Firehose record has no ``data`` string
empty_data            ``data`` decodes to zero bytes
record_too_large      ``data`` is larger than Firehose's 1,000 KiB record maximum
bad_base64            ``data`` is not strict base64
not_utf8              the decoded bytes are not UTF-8
not_json              the text is not JSON
too_deeply_nested     the JSON nests deeper than the parser allows
not_an_object         the JSON is not an object (a list, a string, ...)
unknown_event_name    ``eventName`` is not INSERT / MODIFY / REMOVE
missing_event_id      ``eventID`` missing or not a non-empty string
missing_dynamodb      the ``dynamodb`` object is missing
missing_image         NewImage (INSERT/MODIFY) or OldImage (REMOVE) is missing: the stream view
                      type must be NEW_AND_OLD_IMAGES
missing_key           the image has no ``orderId`` string
bad_sequence_number   ``SequenceNumber`` is not 1-40 ASCII digits
bad_event_time        ``ApproximateCreationDateTime`` is not a plausible epoch number
bad_arrival_time      the record's ``approximateArrivalTimestamp`` is not epoch milliseconds
bad_timestamp         createdAt / updatedAt is not an ISO-8601 timestamp with a time zone
wrong_type            a business attribute has another DynamoDB type than its column needs
bad_attribute_value   an attribute value is malformed (not a one-key object, bad base64, ...)
unknown_type          an unknown DynamoDB type descriptor
bad_number            an N value is not a finite decimal (``"abc"``, ``"NaN"``, ``"Infinity"``)
number_out_of_range   an N value DynamoDB could not hold, a quantity outside INT, or a price with
                      more integer digits than its DECIMAL(p,s) column keeps (p - s)
number_too_precise    a price with more decimal places than its DECIMAL(p,s) column keeps (s):
                      Athena would round it
nesting_too_deep      an attribute nested deeper than DynamoDB's 32 levels
invalid_string        a string that cannot be written as UTF-8 (a lone surrogate)
response_size_limit   the record's output did not fit in the 6 MB Lambda response
internal_error        a bug in this Lambda; the detail names the exception
====================  ============================================================================
"""

from __future__ import annotations


class RecordRejected(Exception):
    """One record cannot become a CDC row; it is answered ProcessingFailed with this reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> str:
        """The full reason text, ``"<code>: <detail>"``."""
        return f"{self.code}: {self.detail}"
