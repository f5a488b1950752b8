"""The version of django_sqs, in a module of its own so that any module (the client's
user agent) can read it without importing the package root."""

__version__ = "1.0.0.dev0"
