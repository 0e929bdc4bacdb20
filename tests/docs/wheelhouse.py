"""Wheels of the packages installed in this virtualenv, so a fresh venv installs offline.

Each installed distribution is packed back into a wheel from the files its RECORD lists (scripts
outside site-packages are left out: pip writes console scripts again from entry_points.txt).
Only the distributions a requirement list needs are packed, following their own requirements.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name


def closure(requirements: list[str], extras: frozenset[str] = frozenset()) -> set[str]:
    """Canonical names of the installed distributions `requirements` pull in, recursively."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
    wanted: set[str] = set()
    pending = [(Requirement(r), extras) for r in requirements]
    while pending:
        requirement, active_extras = pending.pop()
        env = default_environment()
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({**env, "extra": extra}) for extra in active_extras or {""}
        ):
            continue
        name = canonicalize_name(requirement.name)
        if name in wanted:
            continue
        wanted.add(name)
        dist = installed[name]
        pending.extend((Requirement(r), frozenset(requirement.extras)) for r in dist.requires or [])
    return wanted


def pack(name: str, into: Path) -> Path:
    """Write the installed distribution `name` as a wheel into `into`; the wheel's path."""
    dist = metadata.distribution(name)
    files = [f for f in dist.files or [] if f.parts[0] != ".." and "__pycache__" not in f.parts]
    dist_info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel_meta = (dist.read_text("WHEEL") or "").splitlines()
    tags = {line.split(":", 1)[1].strip() for line in wheel_meta if line.startswith("Tag:")}
    tag = next(str(t) for t in sys_tags() if str(t) in tags)  # one this interpreter installs
    stem = dist_info.removesuffix(".dist-info")
    target = into / f"{stem}-{tag}.whl"
    record_name = f"{dist_info}/RECORD"
    record: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in files:
            arcname = file.as_posix()
            if arcname == record_name:
                continue
            data = Path(dist.locate_file(file)).read_bytes()
            wheel.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        record.append(f"{record_name},,")
        wheel.writestr(record_name, "\n".join(record) + "\n")
    return target


def build_wheelhouse(requirements: list[str], into: Path) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    return [pack(name, into) for name in sorted(closure(requirements))]
