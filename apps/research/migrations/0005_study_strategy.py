import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0004_strategy_search"),
        ("strategies", "0005_backtestjob"),
    ]

    operations = [
        migrations.AddField(
            model_name="study",
            name="strategy",
            field=models.ForeignKey(
                blank=True,
                help_text="The configured strategy studied (its account's members see the study); blank: an engine kind alone",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="studies",
                to="strategies.strategy",
            ),
        ),
    ]
