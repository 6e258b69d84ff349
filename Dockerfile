# syntax=docker/dockerfile:1
# eris: a small image that runs `eris serve` as an unprivileged user.
#   docker build -t eris .
#   docker run -p 8080:8080 -v eris-data:/var/lib/eris eris

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The build settings (how the bundled SQLite is compiled).
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
# postgres-tls: TLS to PostgreSQL through a bundled OpenSSL (the rust image has the perl and make it needs).
RUN cargo build --release --locked --features postgres-tls \
    && install -D target/release/eris /out/eris

FROM debian:bookworm-slim
# SQLite, libpq and OpenSSL are linked in; only CA certificates are needed, for TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/eris --create-home eris
COPY --from=build /out/eris /usr/local/bin/eris
USER 10001
ENV ERIS_BIND=0.0.0.0:8080 \
    ERIS_DATA_DIR=/var/lib/eris
VOLUME /var/lib/eris
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/eris"]
CMD ["serve"]
