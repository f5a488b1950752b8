"""An app whose receivers live in tasks.py, found only with SQS_RECEIVER_MODULES."""
