"""One router per process; ``registry_routers`` are mounted under /registry and /ibr."""
