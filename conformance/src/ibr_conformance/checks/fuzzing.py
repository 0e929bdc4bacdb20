"""Schema-driven fuzzing with schemathesis (Phase.FUZZING)."""
