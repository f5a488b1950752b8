"""The version of django_sqs, in a module of its own so that any module (the client's
user agent) can read it without importing the package root.

PEP 440: ``1.0.0.dev0`` is the development of 1.0.0, nothing released yet. CHANGELOG.rst
says what each version holds; docs/howto/release.rst how to release one.
"""

__version__ = "1.0.0.dev0"
