# Every dependency comes from a Debian 12 package; nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CLI11 2.1 REQUIRED CONFIG)              # libcli11-dev
find_package(nlohmann_json 3.11 REQUIRED CONFIG)     # nlohmann-json3-dev
find_package(yaml-cpp 0.7 REQUIRED CONFIG)           # libyaml-cpp-dev; its target is `yaml-cpp`
find_package(fmt 9 REQUIRED CONFIG)                  # libfmt-dev
find_package(spdlog 1.10 REQUIRED CONFIG)            # libspdlog-dev (external fmt)
find_package(CURL 7.88 REQUIRED)                     # libcurl4-openssl-dev
find_package(OpenSSL 3 REQUIRED)                     # libssl-dev
find_package(ZLIB 1.2 REQUIRED)                      # zlib1g-dev
find_program(GPUORCH_SCDOC scdoc REQUIRED)           # scdoc: man/*.scd -> roff
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # libcpp-httplib-dev

if(GPUORCH_BUILD_TESTS)
  find_package(doctest 2.4 REQUIRED CONFIG)          # doctest-dev
  # Tools the obs tests run; a missing one makes those tests fail, not skip.
  find_program(GPUORCH_PROMTOOL promtool)                    # prometheus
  find_program(GPUORCH_PUSHGATEWAY prometheus-pushgateway)   # prometheus-pushgateway
  find_program(GPUORCH_PROMETHEUS prometheus)                # prometheus (the server, for the scrape test)
endif()
if(GPUORCH_BUILD_BENCHMARKS)
  find_package(benchmark 1.7 REQUIRED CONFIG)        # libbenchmark-dev
endif()
