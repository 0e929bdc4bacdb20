# The IBR service: `ibr serve` as an unprivileged user, with a health check.
#   docker build -t ibr .
#   docker run -e IBR_DATABASE_URL=postgresql+psycopg://ibr@db/ibr -p 127.0.0.1:8000:8000 ibr
# tests/docs/test_containers.py runs this file's entry point, command, environment and health
# check on the CI machine (no container engine runs there) and lints it with hadolint.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml hatch_build.py README.md LICENSE ./
COPY spec/ spec/
COPY protocol/src/ protocol/src/
COPY service/src/ service/src/
COPY reference_client/src/ reference_client/src/
COPY conformance/src/ conformance/src/
COPY mock_data/src/ mock_data/src/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/ibr ibr
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/ibr-*.whl && rm -rf /wheels
COPY docker/start.sh /usr/local/bin/ibr-start
USER 10001
WORKDIR /var/lib/ibr
ENV IBR_DATABASE_URL=sqlite:////var/lib/ibr/ibr.db \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/ibr-start"]
CMD ["ibr", "serve", "--host", "0.0.0.0", "--port", "8000"]
