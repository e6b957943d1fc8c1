# The picchu operator image: `picchu run` as a non-root user. Build from the repository root:
#   docker build -t picchu:0.1.0 .
# Runtime dependencies are the exact versions pinned in pyproject.toml; nothing else is installed.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY picchu ./picchu
RUN pip install --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY --from=build /install /usr/local
RUN groupadd --gid 65532 picchu \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin picchu
USER 65532:65532
# metrics (--metrics-addr) and health (--health-addr: /healthz, /readyz)
EXPOSE 8383 8080
ENTRYPOINT ["picchu", "run"]
