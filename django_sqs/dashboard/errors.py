"""What the dashboard says when SQS fails: the request and its error code, never AWS's text.

AWS's message can name the account, the role and the policy; it goes to the log (logger
``django_sqs``), as with the status view. The page gets a sentence a person can act on.
"""

from __future__ import annotations

import logging

from ..client import NONEXISTENT_QUEUE_CODES
from ..exceptions import SQSError

logger = logging.getLogger("django_sqs")

ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation",
                       "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                       "ExpiredToken", "InvalidSecurity", "NoCredentialsError"}
UNREACHABLE_CODES = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                     "ProxyConnectionError", "SSLError", "HTTPClientError", "ConnectionError"}
PURGE_IN_PROGRESS_CODES = {"AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress"}


def code_of(exc: BaseException) -> str:
    return getattr(exc, "code", "") or type(exc).__name__


def describe(exc: BaseException, what: str) -> str:
    """A safe sentence for the page about ``exc`` (raised while doing ``what``); logs the details."""
    logger.error("dashboard: %s failed: %s", what, exc, exc_info=exc)
    code = code_of(exc)
    if code in NONEXISTENT_QUEUE_CODES:
        reason = "the queue does not exist (it was deleted, or not created yet)"
    elif code in ACCESS_DENIED_CODES:
        reason = "access was denied: the credentials of this site lack a permission (see the IAM actions in the dashboard's documentation)"
    elif code in UNREACHABLE_CODES:
        reason = "SQS could not be reached"
    elif isinstance(exc, SQSError):
        reason = "SQS answered with an error"
    else:
        reason = "an unexpected error occurred"
    return f"Could not {what}: {reason} ({brief(exc)}). The details are in the server log (logger django_sqs)."


def brief(exc: BaseException) -> str:
    """The failed request and its error code, e.g. "DeleteMessage failed, AccessDenied"."""
    return f"{getattr(exc, 'action', '') or 'a request'} failed, {code_of(exc)}"
