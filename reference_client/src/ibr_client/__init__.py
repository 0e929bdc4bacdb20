"""ibr_client: the reference SP-MIS. An SDK (sync and async), a callback receiver, a trigger
API and the ``ibr-client`` command line, for any IBR that follows the spec. See README.md.
"""

from ibr_client.client import AsyncIbrClient, IbrClient
from ibr_client.config import ClientConfig, load_config
from ibr_client.errors import (
    AuthError,
    CallbackTimeoutError,
    ConfigError,
    IbrClientError,
    IbrRejectedError,
    RequestInvalidError,
    ResponseInvalidError,
    TransportError,
)
from ibr_client.handles import CallbackHandle, CallbackHub
from ibr_client.messages import idtype_query
from ibr_client.push import PushReport, push_file
from ibr_client.receiver import create_receiver_app
from ibr_client.sp_mis import ReferenceSpMis
from ibr_client.store import ClientStore, StoredCallback

__all__ = [
    "AsyncIbrClient",
    "AuthError",
    "CallbackHandle",
    "CallbackHub",
    "CallbackTimeoutError",
    "ClientConfig",
    "ClientStore",
    "ConfigError",
    "IbrClient",
    "IbrClientError",
    "IbrRejectedError",
    "PushReport",
    "ReferenceSpMis",
    "RequestInvalidError",
    "ResponseInvalidError",
    "StoredCallback",
    "TransportError",
    "create_receiver_app",
    "idtype_query",
    "load_config",
    "push_file",
]
