# syntax=docker/dockerfile:1
# The Budstikke image: budstikke-server and the budstikke CLI on debian:12-slim,
# with only the shared libraries the two binaries link (tests/deploy/
# runtime_libs_test.py checks the list below against ldd + dpkg -S), run as
# the numeric non-root user 10001. The Helm chart (helm/budstikke) uses it.
#
#   docker build -t registry.example.org/budstikke/budstikke:0.1.0 .

# --- build: Debian 12 with the development packages (scripts/install-deps.sh
# lists the same names; tests, benchmarks and the console are not built).
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev librocksdb-dev libssl-dev libre2-dev \
      libcli11-dev libspdlog-dev prometheus-cpp-dev nlohmann-json3-dev libgoogle-perftools-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBUDSTIKKE_BUILD_TESTS=OFF -DBUDSTIKKE_BUILD_BENCH=OFF \
 && cmake --build /build --target budstikke-server budstikke \
 && strip --strip-debug /build/bin/budstikke-server /build/bin/budstikke

# --- runtime: debian:12-slim plus the runtime libraries, nothing else.
FROM debian:12-slim
# runtime-packages: begin (one per line; tests/deploy/runtime_libs_test.py)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libbz2-1.0 \
      libc-ares2 \
      libc6 \
      libcivetweb1 \
      libfmt9 \
      libgcc-s1 \
      libgrpc++1.51 \
      libgrpc29 \
      liblz4-1 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libprotobuf32 \
      libre2-9 \
      libsnappy1v5 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libtcmalloc-minimal4 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
# runtime-packages: end
COPY --from=build /build/bin/budstikke-server /build/bin/budstikke /usr/bin/
# Writable places come from volumes (data, backups, /tmp); the root file system
# stays read-only in the chart.
RUN mkdir -p /var/lib/budstikke /var/backups/budstikke \
 && chown 10001:10001 /var/lib/budstikke /var/backups/budstikke \
 && chmod 0700 /var/lib/budstikke /var/backups/budstikke
USER 10001:10001
EXPOSE 7443 8081 9090
ENTRYPOINT ["/usr/bin/budstikke-server"]
CMD ["--help"]
