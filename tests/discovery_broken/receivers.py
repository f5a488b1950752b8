from django_sqs import receiver


@receiver("half_registered")
def half_registered(message):
    pass


raise RuntimeError("broken receivers module")
