"""Sphinx configuration of the django_sqs reference site.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs`` extra).
The Python examples of these pages are run by ``tests/test_docs.py``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django_sqs.version import __version__  # noqa: E402

project = "django_sqs"
author = "django_sqs developers"
copyright = "django_sqs developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = []
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Amazon SQS as the background-work system of a Django project",
}
html_static_path = []
# The pages cite each other with :doc:; a dangling one fails the build (-W).
nitpicky = False
