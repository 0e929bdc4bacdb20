"""ibr_client."""
