from django_sqs import receiver, register

register("discovered_send_only")


@receiver("discovered")
def discovered(message):
    pass
