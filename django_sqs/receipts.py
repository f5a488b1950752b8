"""Batch requests on received messages, by receipt handle: DeleteMessageBatch and
ChangeMessageVisibilityBatch. The worker, ``sqs_clear`` and ``sqs_redrive`` all come here."""

from __future__ import annotations

from .client import DEFAULT, get_client, wrap_errors

MAX_ENTRIES = 10
_METHODS = {
    "DeleteMessageBatch": "delete_message_batch",
    "ChangeMessageVisibilityBatch": "change_message_visibility_batch",
}


def batch_request(
    action: str, url: str, full_name: str, receipt_handles: list[str], *, client: str = DEFAULT, **extra: int
) -> tuple[list[int], list[tuple[int, str, str]]]:
    """One ``action`` request for at most 10 receipt handles (``extra`` goes into every
    entry, e.g. ``VisibilityTimeout=0``).

    ``client`` is the kind of client (``client.SHORT`` for the worker: see there).
    Returns the indexes SQS accepted and ``(index, code, message)`` for those it refused;
    a failed request raises ``SQSRequestError``.
    """
    assert len(receipt_handles) <= MAX_ENTRIES
    entries = [{"Id": str(i), "ReceiptHandle": handle, **extra} for i, handle in enumerate(receipt_handles)]
    call = getattr(get_client(client), _METHODS[action])
    with wrap_errors(action, full_name):
        response = call(QueueUrl=url, Entries=entries)
    ok = [int(e["Id"]) for e in response.get("Successful", [])]
    failed = [(int(e["Id"]), e.get("Code", ""), e.get("Message", "")) for e in response.get("Failed", [])]
    return ok, failed
