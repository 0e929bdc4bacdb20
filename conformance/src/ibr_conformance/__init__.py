"""ibr_conformance."""
