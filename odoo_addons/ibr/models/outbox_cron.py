"""The outbox drained by an Odoo cron.

The core already keeps a durable queue: callbacks and notifications are rows of its outbox,
written in the same transaction as the data they announce, with dedupe keys, leases, retries
with backoff and a dead state. A cron that runs the core's dispatcher therefore survives a
restart with nothing lost; `queue_job` would add a second queue (and its job runner) to keep in
step with the first.
"""

import asyncio
import logging
from datetime import timedelta

from odoo import api, fields, models

from ibr_protocol.clock import utc_now
from ibr_service.core import IbrCore
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.keys import load_or_create_keys

from ..store import OdooStore
from ..store.odoo_store import wake_outbox_cron
from .fastapi_endpoint import ibr_settings

_log = logging.getLogger(__name__)

MAX_PASSES = 50


class IbrOutbox(models.AbstractModel):
    _name = "ibr.outbox"
    _description = "IBR outbox dispatcher (callbacks and notifications)"

    @api.model
    def _cron_dispatch(self, max_passes=MAX_PASSES):
        """Process accepted async transactions and deliver due callbacks, one job at a time.

        One job per pass: the dispatcher's deliveries would otherwise run concurrently on the
        single Odoo cursor this cron holds. Run by Odoo's cron worker, each pass commits: a
        delivered callback is recorded at once, and the next pass sees the requests the API
        accepted meanwhile (Odoo's transactions read one snapshot). The API wakes this cron
        when it queues work; a retry due later schedules the cron for that moment.
        """
        settings = ibr_settings(self.env).model_copy(update={"outbox_batch_size": 1})
        store = OdooStore(self.env, wake_outbox=False)
        in_cron = bool(self.env.context.get("cron_id"))
        core = IbrCore(store, clock=utc_now, settings=settings.core_settings())
        dispatcher = OutboxDispatcher(
            store,
            core,
            keys=load_or_create_keys(store, now=utc_now()),
            settings=settings,
            clock=utc_now,
        )
        totals = {"transactions": 0, "delivered": 0, "retried": 0, "dead": 0}
        for _pass in range(max_passes):
            report = asyncio.run(dispatcher.run_once())
            totals["transactions"] += report.processed_transactions
            totals["delivered"] += len(report.delivered)
            totals["retried"] += len(report.retried)
            totals["dead"] += len(report.dead)
            if in_cron:
                self.env["ir.cron"]._commit_progress(remaining=0)
            if report.idle:
                break
        # The earliest retry still waiting (past its lease), as Odoo's naive UTC.
        self.env.cr.execute(
            "SELECT min(GREATEST(next_attempt_at, COALESCE(lease_until, next_attempt_at)))"
            " AT TIME ZONE 'UTC' FROM ibr.outbox WHERE status = 'pending'"
        )
        (next_retry,) = self.env.cr.fetchone()
        if next_retry is not None:
            # Later than now: a trigger for later wakes nobody, the cron workers find it when
            # they next poll (at most a minute), so nothing spins on a job it cannot deliver.
            wake_outbox_cron(self.env, at=max(next_retry, _now() + timedelta(seconds=1)))
        _log.info("IBR outbox: %s", totals)
        return totals


def _now():
    return fields.Datetime.now()
