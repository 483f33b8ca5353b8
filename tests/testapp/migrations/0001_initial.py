"""The tenancy models (``tests.testapp.models``)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]  # noqa: RUF012
    operations = [  # noqa: RUF012
        migrations.CreateModel(
            name="Organisation",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "organisation",
                    models.ForeignKey(on_delete=models.CASCADE, to="testapp.organisation"),
                ),
                (
                    "user",
                    models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
        migrations.CreateModel(
            name="MasterAPIKey",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=64, unique=True)),
                (
                    "organisation",
                    models.ForeignKey(on_delete=models.CASCADE, to="testapp.organisation"),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Environment",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("api_key", models.CharField(max_length=64, unique=True)),
                (
                    "organisation",
                    models.ForeignKey(on_delete=models.CASCADE, to="testapp.organisation"),
                ),
            ],
        ),
    ]
