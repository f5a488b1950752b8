from django.db import models


class Order(models.Model):
    """An order; ``confirm_order`` receives it as a ModelInstanceMessage."""

    item = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, default="new")

    def __str__(self) -> str:
        return f"order #{self.pk} ({self.quantity} × {self.item}, {self.status})"


class Activity(models.Model):
    """What a receiver did, written by the receiver: the demo prints these."""

    receiver = models.CharField(max_length=100)
    text = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.receiver}: {self.text}"
