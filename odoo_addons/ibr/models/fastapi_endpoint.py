from odoo import api, fields, models

from ibr_service.settings import Settings

from ..api import build_ibr_app


def ibr_settings(env):
    """The host settings: `IBR_*` environment variables, receiver id from the system parameter."""
    receiver_id = env["ir.config_parameter"].sudo().get_param("ibr.receiver_id", "IBR")
    return Settings(receiver_id=receiver_id, run_outbox=False)


class FastapiEndpoint(models.Model):
    _inherit = "fastapi.endpoint"

    app = fields.Selection(
        selection_add=[("ibr", "IBR (DCI SP-MIS <-> IBR)")], ondelete={"ibr": "cascade"}
    )

    def _get_app(self):
        if self.app != "ibr":
            return super()._get_app()
        return build_ibr_app(ibr_settings(self.env))

    @api.model
    def _clear_fastapi_exception_handlers(self, app):
        # OCA clears every mounted app's handlers so that Odoo renders errors; the IBR's
        # handlers are its DCI ERR acknowledgements, which the spec requires.
        if getattr(getattr(app, "state", None), "ibr_keeps_error_handlers", False):
            return
        super()._clear_fastapi_exception_handlers(app)
