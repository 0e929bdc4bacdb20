"""Publishing beneficiaries the way an SP-MIS does: through the core, into Odoo's database."""

from odoo.addons.ibr.store import OdooStore

from ibr_protocol.clock import utc_now
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message, person_beneficiary


def person_in(national_id, region, district, **options):
    """A sample person whose address puts them in `region` / `district`."""
    beneficiary = person_beneficiary(national_id, **options)
    beneficiary["member"]["demographic_info"]["address"] = [
        {"region_code": region, "sub_region_code": district, "country_code": "KE"}
    ]
    return beneficiary


def in_programmes(national_id, region, *programmes):
    """A person enrolled (active) in each of `programmes`."""
    person = person_in(national_id, region, f"{region}-D1")
    enrolment = {k: v for k, v in person["programme_identifier"][0].items() if k != "benefits"}
    person["programme_identifier"] = [
        {**enrolment, "programme": {"programme_identifier": code, "programme_name": code}}
        for code in programmes
    ]
    return person


def publish(env, *beneficiaries, sender_id="SP-Test"):
    """Enrolment updates through the core, as the API would make them; returns the items."""
    core = IbrCore(OdooStore(env), clock=utc_now, settings=CoreSettings(receiver_id="IBR"))
    answer = core.enrollment_updates(
        enrollment_message(list(beneficiaries)), caller=Caller(sender_id=sender_id)
    )
    return answer["enrolled_response"]


def clear_core_tables(env):
    """Empty the core's tables (inside the test's transaction, which rolls back)."""
    from ibr_service.store_sql import metadata

    for table in reversed(metadata.sorted_tables):
        env.cr.execute(f'DELETE FROM ibr."{table.name}"')  # our own table names
