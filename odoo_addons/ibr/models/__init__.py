from . import (
    core_view,
    demo,
    enrolment,
    fastapi_endpoint,
    operations,
    outbox_cron,
    programme,
    res_users,
    subject,
)
