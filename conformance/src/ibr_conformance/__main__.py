from ibr_conformance.cli import app

app()
