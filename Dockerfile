# The picchu operator image: `picchu run` as a non-root user on a read-only root filesystem.
# Build from the repository root:
#   docker build -t picchu:0.1.0 .
# Runtime dependencies are the exact versions pinned in pyproject.toml; nothing else is installed.
#
# The base is pinned by digest so a rebuild gets the same bytes. No container engine or registry is reachable
# where this repository is developed, so the digest was taken from a public record of python:3.11-slim-bookworm
# and has NOT been pulled here: check it (and refresh it for security updates) with
#   docker buildx imagetools inspect python:3.11-slim-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY picchu ./picchu
# pip compiles the bytecode here, so the read-only runtime never needs to write .pyc files
RUN pip install --prefix=/install .

FROM ${PYTHON_IMAGE}
# Read-only root filesystem: nothing writes outside /tmp (the kubernetes client's CA files, discovery caches);
# HOME points there too so no library looks for a writable home directory.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp TMPDIR=/tmp
COPY --from=build /install /usr/local
RUN groupadd --gid 65532 picchu \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin picchu
USER 65532:65532
# The only writable path (the chart mounts an emptyDir here).
VOLUME ["/tmp"]
# metrics (--metrics-addr) and health (--health-addr: /healthz, /readyz)
EXPOSE 8383 8080
ENTRYPOINT ["picchu", "run"]
