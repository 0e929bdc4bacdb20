"""What an administrator reads: API clients, transactions and the audit log."""

from odoo import fields, models

from ibr_service.core import audit_verify

from ..store import OdooStore


class IbrClient(models.Model):
    _name = "ibr.client"
    _inherit = ["ibr.core.view"]
    _description = "IBR API client (SP-MIS)"
    _order = "sender_id"
    _rec_name = "sender_id"
    _auto = False

    sender_id = fields.Char("Sender id", readonly=True)
    scopes = fields.Char(readonly=True)
    allowed_programmes = fields.Char("Programmes it may write", readonly=True)
    read_scope = fields.Char("Read scope", readonly=True)
    allowed_callback_hosts = fields.Char("Callback hosts", readonly=True)
    callback_token_url = fields.Char(readonly=True)
    active = fields.Boolean(readonly=True)
    created_at = fields.Datetime(readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(c.sender_id) AS id, c.sender_id,
                   c.scopes::text AS scopes,
                   coalesce(c.allowed_programmes::text, 'all') AS allowed_programmes,
                   {column("c", "clients", "read_scope", "NULL")}::text AS read_scope,
                   c.allowed_callback_hosts::text AS allowed_callback_hosts,
                   c.callback_token_url, c.active,
                   c.created_at AT TIME ZONE 'UTC' AS created_at
              FROM ibr.clients c
        """


class IbrTransaction(models.Model):
    _name = "ibr.transaction"
    _inherit = ["ibr.core.view"]
    _description = "IBR asynchronous transaction"
    _order = "created_at desc, id"
    _rec_name = "correlation_id"
    _auto = False

    correlation_id = fields.Char(readonly=True)
    sender_id = fields.Char(readonly=True)
    action = fields.Char(readonly=True)
    message_id = fields.Char(readonly=True)
    transaction_id = fields.Char(readonly=True)
    status = fields.Selection(
        [("rcvd", "Received"), ("pdng", "Pending"), ("succ", "Succeeded"), ("rjct", "Rejected")],
        readonly=True,
    )
    error = fields.Text(readonly=True)
    created_at = fields.Datetime(readonly=True)
    updated_at = fields.Datetime(readonly=True)

    def _view_query(self, column):
        return """
            SELECT ibr.key_id(t.correlation_id) AS id, t.correlation_id, t.sender_id, t.action,
                   t.message_id, t.transaction_id, t.status, t.error,
                   t.created_at AT TIME ZONE 'UTC' AS created_at,
                   t.updated_at AT TIME ZONE 'UTC' AS updated_at
              FROM ibr.transactions t
        """


class IbrAudit(models.Model):
    _name = "ibr.audit"
    _inherit = ["ibr.core.view"]
    _description = "IBR audit log entry (hash-chained)"
    _order = "seq desc"
    _rec_name = "action"
    _auto = False

    seq = fields.Integer("Sequence", readonly=True)
    at = fields.Char("At (UTC)", readonly=True)
    actor = fields.Char(readonly=True)
    action = fields.Char(readonly=True)
    subject = fields.Char(readonly=True)
    detail = fields.Text(readonly=True)
    entry_hash = fields.Char(readonly=True)

    def _view_query(self, column):
        return """
            SELECT a.seq AS id, a.seq, a.at, a.actor, a.action, a.subject,
                   a.detail::text AS detail, a.entry_hash
              FROM ibr.audit_log a
        """

    def action_verify_chain(self):
        """Check the whole hash chain with the core's verifier and say what it found."""
        result = audit_verify(OdooStore(self.env))
        if result.ok:
            message = self.env._("The audit chain is intact (%(n)s entries).", n=result.entries)
        else:
            message = self.env._(
                "The audit chain is broken at entry %(seq)s: %(problem)s",
                seq=result.first_bad_seq,
                problem=result.problem,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Audit chain"),
                "message": message,
                "type": "success" if result.ok else "danger",
                "sticky": not result.ok,
            },
        }
