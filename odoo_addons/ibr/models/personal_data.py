"""Officers' reads of personal data are logged in the core's audit chain.

Every read through the ORM (`read`, `search_read`, the web client's `web_read` and
`web_search_read`, which all end in `_read_format`) and every export of a field holding personal
data (names, birth and death dates, identifiers) appends one entry to the audit chain: who (the
Odoo user), when, which records (the subjects' registry keys) and which fields. The chain is the
core's tamper-evident log, so the administrators' "Verify the chain" covers these entries too.

Odoo 19 serves reads on read-only cursors (`call_kw` looks for the first `_readonly` mark in
the method's MRO); these models mark their read methods read/write, so the entry commits with
the request that answered. Should a read still run on a read-only cursor, the entry is written
on a cursor of its own. Reads the code makes as superuser (`sudo`, computations) are not
officers' reads and are not logged.
"""

from odoo import api, models

from ibr_protocol.clock import utc_now
from ibr_service.core.audit import append_audit

from ..store import OdooStore

READ_ACTION = "personal_data.read"
EXPORT_ACTION = "personal_data.export"


class IbrPersonalData(models.AbstractModel):
    _name = "ibr.personal.data"
    _description = "IBR model holding personal data (reads are logged)"

    _ibr_personal_fields = frozenset()
    """The fields whose reads are logged."""
    _ibr_subject_key_path = "subject_key"
    """Where a record's subject registry key is (a field path)."""

    # Read/write cursors for the web client's reads of these models (the log is a write).
    def read(self, fields=None, load="_classic_read"):
        return super().read(fields, load=load)

    @api.model
    def search_read(self, *args, **kwargs):
        return super().search_read(*args, **kwargs)

    def web_read(self, *args, **kwargs):
        return super().web_read(*args, **kwargs)

    @api.model
    def web_search_read(self, *args, **kwargs):
        return super().web_search_read(*args, **kwargs)

    read._readonly = False
    search_read._readonly = False
    web_read._readonly = False
    web_search_read._readonly = False

    def _read_format(self, fnames, load="_classic_read"):
        values = super()._read_format(fnames, load=load)
        self._ibr_log_personal_read(fnames, READ_ACTION)
        return values

    def export_data(self, fields_to_export):
        data = super().export_data(fields_to_export)
        self._ibr_log_personal_read(
            [path.split("/")[0] for path in fields_to_export], EXPORT_ACTION
        )
        return data

    def _ibr_log_personal_read(self, fnames, action):
        if self.env.su or not self:
            return
        read = sorted(set(fnames or self._fields) & self._ibr_personal_fields)
        if not read:
            return
        keys = sorted(set(self.sudo().mapped(self._ibr_subject_key_path)) - {False})
        detail = {
            "user_id": self.env.uid,
            "login": self.env.user.sudo().login,
            "model": self._name,
            "records": keys,
            "fields": read,
        }
        if self.env.cr.readonly:
            with self.env.registry.cursor() as cr:
                _append(api.Environment(cr, self.env.uid, {}), action, detail)
        else:
            _append(self.env, action, detail)


def _append(env, action, detail):
    with OdooStore(env, wake_outbox=False).transaction() as tx:
        append_audit(
            tx,
            at=utc_now(),
            actor=f"odoo:{detail['login']}",
            action=action,
            subject=detail["model"],
            detail=detail,
        )
