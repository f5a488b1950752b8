"""The optional app of mode B (``runreceiver --schedules``): the table of claimed ticks and
its admin list. Add ``"django_sqs.schedules"`` to INSTALLED_APPS and run migrate."""
