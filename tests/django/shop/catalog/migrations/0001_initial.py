"""The Product table."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    """Create catalog.Product."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("file", models.FileField(max_length=200, upload_to="products/")),
            ],
        ),
    ]
