from . import test_store_contract
