"""Enrolment updates inside Odoo: the core's set-based write path against per-record ORM create.

Runs with Odoo's Python on a fresh database with the `ibr` add-on installed, everything in one
transaction that is rolled back, and prints one JSON object:
- core_rows_per_s: rows written per second by `IbrCore.enrollment_updates` on the `OdooStore`
  (validation, linkage, survivorship, history, audit, then COPY into staging tables and one
  set-wise merge per table on Odoo's cursor), batches of --batch beneficiaries;
- merge_rows_per_s: the registry rows of that run per second spent in the store's
  `write_registry` alone (row building, COPY, set-wise merge): the bulk path without the core's
  per-item work;
- orm_rows_per_s: rows written per second by one `res.partner.create` per row (the model Odoo
  social-protection add-ons keep registrants in), the usual way an Odoo add-on writes;
- ratio: core_rows_per_s / orm_rows_per_s and merge_ratio: merge_rows_per_s / orm_rows_per_s,
  all measured in this run.

    $ODOO_HOME/.venv/bin/python odoo_addons/benchmarks/odoo_bulk_path.py --records 5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

REPO = Path(__file__).resolve().parents[2]
ODOO_HOME = Path(os.environ.get("ODOO_HOME", "/opt/odoo-19.0"))
# Tables the core writes beside the registry rows (its own bookkeeping of the requests).
NOT_REGISTRY = {"audit_log", "transactions", "transaction_references", "outbox"}


def odoo_options(db: str) -> list[str]:
    addons = f"{ODOO_HOME / 'odoo' / 'addons'},{REPO / 'odoo_addons'}"
    return [f"--addons-path={addons}", "-d", db, "--db_host=127.0.0.1", "-r", "odoo"]


def install(db: str) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ODOO_HOME / "odoo-bin"),
            *odoo_options(db),
            "-i",
            "ibr",
            "--stop-after-init",
            "--without-demo",
            "--http-port=0",
            "--max-cron-threads=0",
            "--log-level=warn",
        ],
        check=True,
        capture_output=True,
    )


def measure(db: str, records: int, batch: int, orm_rows: int) -> dict[str, float | int]:
    sys.path.insert(0, str(ODOO_HOME))
    import odoo
    from odoo.modules.registry import Registry

    from ibr_protocol.clock import utc_now
    from ibr_service.core import Caller, CoreSettings, IbrCore
    from ibr_service.core.samples import enrollment_message, person_beneficiary
    from ibr_service.store_sql.registry import RegistryMethods

    odoo.tools.config.parse_config(odoo_options(db))
    from odoo.addons.ibr.store import OdooStore

    people = [
        person_beneficiary(
            f"{i:09d}",
            surname=f"S{i % 997}",
            benefits=(("2024-05-02", "50.00"), ("2024-06-02", "50.00"), ("2024-07-02", "50.00")),
        )
        for i in range(records)
    ]
    with Registry(db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        store = OdooStore(env)
        core = IbrCore(store, clock=utc_now, settings=CoreSettings(receiver_id="IBR"))
        with store.transaction() as tx:
            before = tx.count_rows()
        merge_seconds = [0.0]
        original = RegistryMethods.write_registry

        def timed_write(self, write):
            started = time.perf_counter()
            original(self, write)
            merge_seconds[0] += time.perf_counter() - started

        started = time.perf_counter()
        with patch.object(RegistryMethods, "write_registry", timed_write):
            for i in range(0, records, batch):
                core.enrollment_updates(
                    enrollment_message(people[i : i + batch]), caller=Caller(sender_id="SP-Bench")
                )
        core_seconds = time.perf_counter() - started
        with store.transaction() as tx:
            after = tx.count_rows()
        written = {name: after[name] - before.get(name, 0) for name in after}
        core_rows = sum(written.values())
        merge_rows = sum(n for name, n in written.items() if name not in NOT_REGISTRY)

        partners = env["res.partner"]
        for i in range(20):  # warm-up, not timed: the first creates prepare caches
            partners.create({"name": f"Warm-up {i}"})
        env.flush_all()
        started = time.perf_counter()
        for i in range(orm_rows):
            partners.create({"name": f"Person {i}", "ref": f"p:NID:{i:09d}"})
        env.flush_all()
        orm_seconds = time.perf_counter() - started
        cr.rollback()
    core_rate = core_rows / core_seconds
    merge_rate = merge_rows / merge_seconds[0]
    orm_rate = orm_rows / orm_seconds
    return {
        "records": records,
        "batch": batch,
        "core_rows": core_rows,
        "core_seconds": round(core_seconds, 3),
        "core_rows_per_s": round(core_rate),
        "merge_rows": merge_rows,
        "merge_seconds": round(merge_seconds[0], 3),
        "merge_rows_per_s": round(merge_rate),
        "orm_rows": orm_rows,
        "orm_seconds": round(orm_seconds, 3),
        "orm_rows_per_s": round(orm_rate),
        "ratio": round(core_rate / orm_rate, 1),
        "merge_ratio": round(merge_rate / orm_rate, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="beneficiaries published")
    parser.add_argument("--batch", type=int, default=1000, help="beneficiaries per request")
    parser.add_argument("--orm-rows", type=int, default=2000, help="res.partner rows created")
    args = parser.parse_args()
    db = f"ibr_odoo_bench_{os.getpid()}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "odoo", db], check=True)
    try:
        install(db)
        figures = measure(db, args.records, args.batch, args.orm_rows)
    finally:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", db],
            check=False,
        )
    print(json.dumps({"benchmark": "odoo_bulk_path", **figures}))


if __name__ == "__main__":
    main()
