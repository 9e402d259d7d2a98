"""Guests belong to the organization of their email's domain (selectors.directory.organization_of)
from now on, whichever came first; until now the organization was copied onto the guest once,
at sign-up. This brings existing rows to the rule once: guests who came before their domain's
organization join it, guests of a domain that was removed or moved leave or move with it, and
members, who never belong to one, keep none. The services keep it so afterwards."""

from django.db import migrations


def guests_follow_their_domains(apps, schema_editor):
    User = apps.get_model("governance", "User")
    IdentitySource = apps.get_model("governance", "IdentitySource")
    User.objects.exclude(user_type="guest").exclude(connected_organization=None) \
        .update(connected_organization=None)
    owners = {domain.lower(): organization_id for domain, organization_id in
              IdentitySource.objects.exclude(domain_name="")
              .values_list("domain_name", "organization_id")}
    moves: dict[int | None, list[int]] = {}
    guests = User.objects.filter(user_type="guest").order_by("pk") \
        .values_list("pk", "email", "connected_organization_id")
    for pk, email, organization_id in guests.iterator(chunk_size=2000):
        wanted = owners.get(email.rsplit("@", 1)[-1].lower())
        if wanted != organization_id:
            moves.setdefault(wanted, []).append(pk)
    for wanted, pks in moves.items():
        for start in range(0, len(pks), 2000):
            User.objects.filter(pk__in=pks[start:start + 2000]) \
                .update(connected_organization_id=wanted)


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0015_directory_provisioning"),
    ]

    operations = [
        migrations.RunPython(guests_follow_their_domains, migrations.RunPython.noop),
    ]
