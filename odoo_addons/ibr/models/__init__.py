from . import (
    core_view,
    demo,
    enrolment,
    fastapi_endpoint,
    identity_case,
    operations,
    outbox_cron,
    programme,
    res_users,
    subject,
)
