"""The outbox drained by an Odoo cron.

The core already keeps a durable queue: callbacks and notifications are rows of its outbox,
written in the same transaction as the data they announce, with dedupe keys, leases, retries
with backoff and a dead state. A cron that runs the core's dispatcher therefore survives a
restart with nothing lost; `queue_job` would add a second queue (and its job runner) to keep in
step with the first.
"""

import asyncio
import logging

from odoo import api, models

from ibr_protocol.clock import utc_now
from ibr_service.core import CoreSettings, IbrCore
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.keys import load_or_create_keys

from ..store import OdooStore
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
        single Odoo cursor this cron holds.
        """
        settings = ibr_settings(self.env).model_copy(update={"outbox_batch_size": 1})
        store = OdooStore(self.env)
        core = IbrCore(
            store, clock=utc_now, settings=CoreSettings(receiver_id=settings.receiver_id)
        )
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
            if report.idle:
                break
        _log.info("IBR outbox: %s", totals)
        return totals
