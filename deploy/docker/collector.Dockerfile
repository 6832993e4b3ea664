# syntax=docker/dockerfile:1
# The pinned Collector image plus a static busybox, only so that compose can health-check it:
# the contrib image holds nothing but the collector binary (no shell, no HTTP client).
# Build from the repository root: docker build -f deploy/docker/collector.Dockerfile .

FROM busybox:1.37.0-musl AS tools
# The persistent queue directory, owned by the collector's user (uid 10001): a new named
# volume mounted there takes this ownership.
RUN mkdir -p /out/var/lib/otelcol/queue

FROM otel/opentelemetry-collector-contrib:0.165.0
COPY --from=tools /bin/busybox /busybox
COPY --from=tools --chown=10001:10001 /out/var/lib/otelcol /var/lib/otelcol
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:13133/"]
