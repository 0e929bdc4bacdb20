from . import (
    core_view,
    enrolment,
    fastapi_endpoint,
    operations,
    outbox_cron,
    programme,
    res_users,
    subject,
)
