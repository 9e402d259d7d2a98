"""The tenant's settings row exists from the start, with the documented defaults."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("governance", "TenantSettings").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_end_reason_manager")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
