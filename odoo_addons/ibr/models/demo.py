"""Demo data: a small synthetic population from `ibr_mock_data`, published through the core."""

from collections import Counter

from odoo import api, models

from ibr_protocol.clock import utc_now
from ibr_service.core import Caller, IbrCore
from ibr_service.core.samples import enrollment_message

from ..store import OdooStore
from .fastapi_endpoint import ibr_settings

DEMO_SENDER = "SP-MIS"
BATCH = 100


class IbrDemo(models.AbstractModel):
    _name = "ibr.demo"
    _description = "IBR demo data loader"

    @api.model
    def _load_mock_population(self, people=200, seed=0):
        """Publish `ibr_mock_data.small_population` as one SP-MIS would; item statuses counted."""
        from ibr_mock_data.generate import small_population

        population = small_population(seed=seed, people=people)
        settings = ibr_settings(self.env).core_settings()
        core = IbrCore(OdooStore(self.env), clock=utc_now, settings=settings)
        statuses = Counter()
        records = population.beneficiaries
        for start in range(0, len(records), BATCH):
            answer = core.enrollment_updates(
                enrollment_message(records[start : start + BATCH], f"T-demo-{start}"),
                caller=Caller(sender_id=DEMO_SENDER),
            )
            statuses.update(item["status"] for item in answer["enrolled_response"])
        return dict(statuses)
