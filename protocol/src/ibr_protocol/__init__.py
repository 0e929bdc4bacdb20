"""ibr_protocol."""
