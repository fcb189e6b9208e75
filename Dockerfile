# identity-context: gRPC identity-context service.
# Build: docker build -t identity-context .
# Run:   docker run -p 50051:50051 identity-context   (development mode, embedded PostgreSQL)

FROM python:3.11-slim AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
COPY generated ./generated
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 identity \
 && useradd --system --uid 10001 --gid identity --create-home \
      --home-dir /var/lib/identity-context identity
COPY --from=build /install /usr/local
# Logs: JSON lines on stdout, flushed by the service (at once from WARNING up,
# every 250 ms otherwise): no PYTHONUNBUFFERED, which would make every line a write.
ENV IDENTITY_CONTEXT_LISTEN=0.0.0.0:50051 \
    IDENTITY_CONTEXT_DATA_DIR=/var/lib/identity-context
USER 10001:10001
WORKDIR /var/lib/identity-context
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["identity-context", "health"]
ENTRYPOINT ["identity-context"]
CMD ["serve"]
