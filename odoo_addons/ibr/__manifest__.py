# Copyright 2026 IBR contributors
# License Apache-2.0 (https://www.apache.org/licenses/LICENSE-2.0)
{
    "name": "Integrated Beneficiary Registry (DCI SP-MIS <-> IBR)",
    "summary": "The IBR inside Odoo: registry views for officers and the DCI API for SP-MIS",
    "version": "19.0.1.0.0",
    "category": "Social Protection",
    "website": "https://github.com/ibr-project/ibr",
    "author": "IBR contributors",
    "license": "Other OSI approved licence",
    "application": True,
    "depends": ["base", "web", "fastapi"],
    "external_dependencies": {
        "python": ["ibr", "fastapi", "sqlalchemy", "alembic", "joserfc", "pydantic"],
    },
    "data": [
        "security/ibr_groups.xml",
        "security/ir.model.access.csv",
        "security/ibr_rules.xml",
        "data/ibr_endpoint.xml",
        "data/ibr_cron.xml",
        "views/subject_views.xml",
        "views/enrolment_views.xml",
        "views/programme_views.xml",
        "views/identity_case_views.xml",
        "views/overlap_case_views.xml",
        "views/duplicate_case_views.xml",
        "views/operations_views.xml",
        "views/res_users_views.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/ibr_demo.xml"],
    "assets": {
        "web.assets_tests": ["ibr/static/tests/tours/*.js"],
    },
    "pre_init_hook": "pre_init_hook",
}
