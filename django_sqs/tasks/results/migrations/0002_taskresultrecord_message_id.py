from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_sqs_results", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="taskresultrecord",
            name="message_id",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
    ]
