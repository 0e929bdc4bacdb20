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
    InputError,
    RequestInvalidError,
    ResponseInvalidError,
    TransportError,
)
from ibr_client.handles import CallbackHandle, CallbackHub
from ibr_client.messages import expression_query, idtype_query, predicate_query
from ibr_client.push import PushInterrupted, PushReport, Rejection, push_file
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
    "InputError",
    "PushInterrupted",
    "PushReport",
    "ReferenceSpMis",
    "Rejection",
    "RequestInvalidError",
    "ResponseInvalidError",
    "StoredCallback",
    "TransportError",
    "create_receiver_app",
    "expression_query",
    "idtype_query",
    "load_config",
    "predicate_query",
    "push_file",
]
