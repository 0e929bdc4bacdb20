from .store import OdooStore, create_core_schema


def pre_init_hook(env):
    """The core's tables exist before the views over them are created."""
    create_core_schema(OdooStore(env))
