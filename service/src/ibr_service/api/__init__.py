"""The FastAPI host of the IBR: app factory, routers, dependencies and the error mapping."""

from ibr_service.api.app import Host, build_host, create_app, include_ibr_routers

__all__ = ["Host", "build_host", "create_app", "include_ibr_routers"]
