# The conformance suite: `ibr-conformance` with its fuzzing engine, as an unprivileged user.
#   docker build -f conformance.Dockerfile -t ibr-conformance .
#   docker run --rm -v "$PWD:/work" ibr-conformance run --profile ibr --config /work/conformance.yaml --output-dir /work/out
# tests/docs/test_containers.py runs its command on the CI machine and lints it with hadolint.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml hatch_build.py README.md LICENSE ./
COPY spec/ spec/
COPY protocol/src/ protocol/src/
COPY service/src/ service/src/
COPY reference_client/src/ reference_client/src/
COPY conformance/src/ conformance/src/
COPY mock_data/src/ mock_data/src/
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[conformance]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /work suite
COPY --from=build /wheels /wheels
# Only the wheels built above can be installed (--no-index), so the versions are those of this tree.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links /wheels "ibr[conformance]" && rm -rf /wheels
USER 10001
WORKDIR /work
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["ibr-conformance"]
CMD ["--help"]
