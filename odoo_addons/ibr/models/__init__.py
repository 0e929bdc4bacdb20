from . import (
    core_view,
    demo,
    enrolment,
    fastapi_endpoint,
    identity_case,
    operations,
    outbox_cron,
    overlap_case,
    programme,
    res_users,
    subject,
)
