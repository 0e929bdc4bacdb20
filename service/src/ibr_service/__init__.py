"""ibr_service."""
