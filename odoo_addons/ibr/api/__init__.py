from .app import build_ibr_app

__all__ = ["build_ibr_app"]
