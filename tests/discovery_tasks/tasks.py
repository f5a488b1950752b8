from django_sqs import receiver


@receiver("found_in_tasks")
def found_in_tasks(message):
    pass
