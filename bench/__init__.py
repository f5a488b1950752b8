"""django_sqs's benchmarks: ``python bench/run.py`` (see docs/benchmarks.rst).

A Django app too (``bench.settings`` installs it), so that its ``receivers`` module is
discovered like any project's.
"""
