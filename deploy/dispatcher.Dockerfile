# The dispatcher alone (no runtime, no sandbox): `codering-x serve` with kubernetes discovery.
# Build context: the repository root.
#   docker build -f deploy/dispatcher.Dockerfile -t codering-x/dispatcher:0.1.0 .
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ARG EXTRA_CA_CERTS=""
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip tini ca-certificates \
 && if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra.crt \
      && update-ca-certificates; fi \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md /opt/codering-x/src/
COPY codering_x /opt/codering-x/src/codering_x
RUN python3 -m pip install '/opt/codering-x/src[kubernetes]' && rm -rf /opt/codering-x/src \
 && find / -xdev -type f -perm /6000 -exec chmod a-s {} + ; true
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin dispatcher
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--", "codering-x"]
CMD ["serve", "--config", "/etc/codering-x/config.yaml"]
