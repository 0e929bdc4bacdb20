"""The sp-mis profile."""
