"""`ibr serve` keeps glibc from holding on to scrypt's 16 MiB blocks (cli/malloc.py): client
secrets verified one after another leave the resident size where the first one left it.
Without the setting the second one adds 16 MiB for good (the soak benchmark's step)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import sys
from ibr_service.cli.malloc import return_large_blocks_to_the_os
from ibr_service.security.client_secrets import hash_secret, verify_secret

if sys.argv[1] == "fixed":
    assert return_large_blocks_to_the_os()
stored = hash_secret("a client secret")  # the first scrypt block

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

sizes = [rss_kib()]
for _ in range(3):
    verify_secret("a client secret", stored)
    sizes.append(rss_kib())
print(sizes[-1] - sizes[0])
"""


def growth_kib(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_verifying_secrets_does_not_grow_the_server() -> None:
    assert growth_kib("default") > 8 * 1024  # the step this guards against (glibc's default)
    assert growth_kib("fixed") < 4 * 1024
