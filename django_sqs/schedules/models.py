from django.db import models


class ScheduleTick(models.Model):
    """One tick of one schedule, claimed by one supervisor (``django_sqs.periodic.claims``).

    The unique (schedule, tick) pair is the claim: a second insert fails.
    """

    schedule = models.CharField(max_length=64)
    #: The scheduled time, UTC.
    tick = models.DateTimeField()
    #: ``host:pid`` of the firing process that holds the claim.
    claimed_by = models.CharField(max_length=100)
    claimed_at = models.DateTimeField()
    #: 1, or more when the claim was taken over after the lease (its claimant vanished).
    claims = models.PositiveIntegerField(default=1)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: The SQS message id (a queue target) or the task result id (a task target).
    message_id = models.CharField(max_length=100, blank=True)
    #: Why the last send failed (kept until a send succeeds).
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-tick"]
        constraints = [models.UniqueConstraint(fields=["schedule", "tick"], name="django_sqs_one_claim_per_tick")]
        indexes = [models.Index(fields=["sent_at", "claimed_at"], name="django_sqs_unsent_claims")]
        verbose_name = "schedule tick"

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.tick.isoformat()}"
