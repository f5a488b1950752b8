"""The worker's requests on messages it holds: ChangeMessageVisibilityBatch and
DeleteMessageBatch, ten entries a request, grouped by queue.

Every failure is reported per message (``(held, code)``), never raised: the caller
decides whether to retry, and every log line names the queue and the message ids.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from .. import receipts
from ..client import SHORT, get_client
from ..exceptions import SQSError
from .sources import Held, Source, ids

logger = logging.getLogger("django_sqs.worker")


def _by_source(held: list[Held]) -> dict[Source, list[Held]]:
    grouped: dict[Source, list[Held]] = defaultdict(list)
    for item in held:
        grouped[item.source].append(item)
    return grouped


def prepare() -> None:
    """Build the short client before the first message is received.

    Built lazily, it cost the heartbeat's first renewal the building of a botocore client
    (a session, the service model loaded): 0.1 s on an idle machine, seconds on a loaded
    one, so that renewal landed after a 1-second hiding had run out and the message was
    handed out again (and a ``RestartLater`` decided meanwhile came back after the
    visibility timeout, not after its delay).
    """
    get_client(SHORT)


def batch(action: str, held: list[Held], **extra: int) -> tuple[list[Held], list[tuple[Held, str]]]:
    """``action`` on ``held``; returns (succeeded, [(failed, error code)]).

    A request that fails as a whole counts as failed for each of its messages.
    """
    ok: list[Held] = []
    failed: list[tuple[Held, str]] = []
    for source, items in _by_source(held).items():
        for start in range(0, len(items), receipts.MAX_ENTRIES):
            chunk = items[start : start + receipts.MAX_ENTRIES]
            try:
                # The short client: the heartbeat and a stop must not wait 35 s per
                # attempt on an endpoint that hangs.
                done, refused = receipts.batch_request(
                    action, source.url, source.full_name, [h.receipt_handle for h in chunk], client=SHORT, **extra
                )
            except SQSError as exc:
                failed += [(h, getattr(exc, "code", "") or type(exc).__name__) for h in chunk]
                continue
            ok += [chunk[i] for i in done]
            failed += [(chunk[i], code) for i, code, _ in refused]
    return ok, failed


def change_visibility(held: list[Held], seconds: int, why: str) -> list[Held]:
    """Hide ``held`` for ``seconds`` from now (0: visible at once); returns those it worked for."""
    if not held:
        return []
    ok, failed = batch("ChangeMessageVisibilityBatch", held, VisibilityTimeout=seconds)
    if why == "heartbeat":
        # A renewal racing the delete of a message just handled: nothing to warn about.
        failed = [(h, code) for h, code in failed if code != "ReceiptHandleIsInvalid"]
    for source, items in _by_source([h for h, _ in failed]).items():
        codes = sorted({code for h, code in failed if h in items})
        logger.warning(
            "visibility change failed (%s) queue=%s ids=%s code=%s",
            why, source.full_name, ids(items), ",".join(codes),
        )
    return ok


def delete(held: list[Held]) -> tuple[list[Held], list[tuple[Held, str]]]:
    return batch("DeleteMessageBatch", held)
