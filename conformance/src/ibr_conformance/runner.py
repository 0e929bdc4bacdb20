"""Runs the selected checks phase by phase and emits the event stream."""

from __future__ import annotations

import contextlib
import hashlib
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ibr_conformance import __version__
from ibr_conformance.callbacks import CallbackReceiver
from ibr_conformance.config import RunConfig
from ibr_conformance.context import CheckContext
from ibr_conformance.errors import HarnessError
from ibr_conformance.events import (
    CheckFinished,
    Event,
    EventHandler,
    PhaseFinished,
    PhaseSkipped,
    PhaseStarted,
    RunFinished,
    RunInfo,
    RunStarted,
)
from ibr_conformance.mock_ibr import MockIbr
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY, CheckRegistry, CheckSkipped, CheckSpec
from ibr_conformance.requirements import Level, RequirementCatalogue
from ibr_conformance.results import CheckResult, Failure, Outcome
from ibr_conformance.target import Target

__all__ = ["run", "spec_fingerprint"]


def spec_fingerprint(root: Path) -> str:
    """sha256 over every file of spec/ (path and bytes, sorted): pins what was tested."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "tests" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_info(config: RunConfig) -> RunInfo:
    import ibr_protocol

    root = ibr_protocol.spec_dir()
    return RunInfo(
        run_id=str(uuid.uuid4()),
        profile=config.profile.value,
        target=config.root_url(),
        seed=config.seed,
        suite_version=__version__,
        spec_version=str(getattr(ibr_protocol, "SPEC_VERSION", "unknown")),
        spec_hash=spec_fingerprint(root),
        started_at=_now(),
        capabilities=tuple(config.capabilities),
        config=config.public_view(),
    )


def _outcome(failures: Sequence[Failure], catalogue: RequirementCatalogue) -> Outcome:
    if not failures:
        return Outcome.PASS
    levels = {catalogue.level_of(rid) for f in failures for rid in f.requirement_ids}
    return Outcome.FAIL if Level.MUST in levels else Outcome.WARN


def _dedupe(failures: Sequence[Failure]) -> list[Failure]:
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    out = []
    for f in failures:
        if f.identity() not in seen:
            seen.add(f.identity())
            out.append(f)
    return out


def _execute(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    levels = {rid: ctx.catalogue.level_of(rid) for rid in spec.requirements}
    started = time.perf_counter()
    outcome, reason, failures = Outcome.PASS, "", []
    if spec.capability and not ctx.claims(spec.capability):
        outcome, reason = Outcome.SKIP, f"capability {spec.capability!r} not claimed"
    else:
        try:
            failures = _dedupe(list(spec.func(ctx)))
            outcome = _outcome(failures, ctx.catalogue)
        except CheckSkipped as skipped:
            outcome, reason = Outcome.SKIP, skipped.reason
        except (HarnessError, httpx.HTTPError) as exc:
            outcome, reason = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug in a check must not abort the whole certification run
            tb = traceback.format_exc(limit=4)
            outcome, reason = Outcome.ERROR, f"harness bug {type(exc).__name__}: {exc}\n{tb}"
    return CheckResult(
        check=spec.name,
        title=spec.title,
        phase=spec.phase,
        requirement_ids=spec.requirements,
        levels=levels,
        outcome=outcome,
        failures=failures,
        reason=reason,
        duration_ms=(time.perf_counter() - started) * 1000,
        evidence=list(ctx.exchanges),
    )


@contextlib.contextmanager
def _mock_ibr(config: RunConfig, target: Target) -> Iterator[MockIbr | None]:
    # Only an SP-MIS needs an IBR to talk to; it is started for the whole run because the
    # SP-MIS fetches the suite's public key from it to verify every callback the suite sends.
    if config.profile is not Profile.SP_MIS:
        yield None
        return
    with MockIbr(
        signing_key=target.signing_key,
        client_id=config.mock_client_id,
        client_secret=config.mock_client_secret,
        ibr_id=config.ibr_id,
        host=config.mock_ibr_host,
        port=config.mock_ibr_port,
        registry_prefix=config.registry_prefix,
        callback_token=target.access_token,
    ) as mock:
        yield mock


@contextlib.contextmanager
def _receiver(config: RunConfig) -> Iterator[CallbackReceiver]:
    with CallbackReceiver(
        host=config.callback_host,
        port=config.callback_port,
        public_url=config.callback_public_url,
        token_client_id=config.effective_callback_client_id(),
        token_client_secret=config.callback_client_secret,
    ) as rx:
        yield rx


def run(
    config: RunConfig,
    *,
    catalogue: RequirementCatalogue,
    handlers: Sequence[EventHandler] = (),
    registry: CheckRegistry = REGISTRY,
    transport: httpx.BaseTransport | None = None,
) -> RunFinished:
    """Run every selected check of `config.profile` and return the final event."""
    import ibr_conformance.checks  # noqa: F401 - registers the built-in checks

    def emit(event: Event) -> None:
        for handler in handlers:
            handler.handle(event)

    info = _run_info(config)
    emit(RunStarted(info))
    started = time.perf_counter()
    results: list[CheckResult] = []
    selected = registry.select(profile=config.profile, names=config.checks or None)
    target = Target(config, transport=transport)
    try:
        with _receiver(config) as receiver, _mock_ibr(config, target) as mock_ibr:
            for phase in Phase:
                if phase not in config.phases:
                    emit(PhaseSkipped(phase, "phase not selected"))
                    continue
                checks = [c for c in selected if c.phase is phase]
                if not checks:
                    emit(PhaseSkipped(phase, f"no {config.profile.value} checks in this phase"))
                    continue
                emit(PhaseStarted(phase))
                phase_started = time.perf_counter()
                for spec in checks:
                    ctx = CheckContext(
                        config=config,
                        target=target,
                        catalogue=catalogue,
                        check=spec,
                        receiver=receiver,
                        mock_ibr=mock_ibr,
                    )
                    target.recorder = ctx.exchanges.append
                    result = _execute(spec, ctx)
                    results.append(result)
                    emit(CheckFinished(result))
                emit(PhaseFinished(phase, (time.perf_counter() - phase_started) * 1000))
    finally:
        target.close()
    final = RunFinished(
        info=info,
        results=tuple(results),
        finished_at=_now(),
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    emit(final)
    return final
