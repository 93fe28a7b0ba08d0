# Every dependency comes from a Debian 12 package; nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CLI11 2.1 REQUIRED CONFIG)              # libcli11-dev
find_package(nlohmann_json 3.11 REQUIRED CONFIG)     # nlohmann-json3-dev
find_package(yaml-cpp 0.7 REQUIRED CONFIG)           # libyaml-cpp-dev; its target is `yaml-cpp`
# gpuorch's own binaries link yaml-cpp statically (libyaml-cpp-dev ships the
# archive, built position-independent): one shared library fewer to map and
# relocate at every start of the CLI (docs/benchmarks.md). Installed consumers
# of libgpuorch link the shared one (lib/CMakeLists.txt).
find_library(GPUORCH_YAML_CPP_ARCHIVE NAMES libyaml-cpp.a REQUIRED)
add_library(gpuorch_yaml_cpp_static STATIC IMPORTED)
get_target_property(gpuorch_yaml_cpp_includes yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
set_target_properties(gpuorch_yaml_cpp_static PROPERTIES
  IMPORTED_LOCATION "${GPUORCH_YAML_CPP_ARCHIVE}"
  INTERFACE_INCLUDE_DIRECTORIES "${gpuorch_yaml_cpp_includes}")
# libyaml: the kubeconfig reader's fast path (lib/src/kube/yaml_tree.hpp). The
# shared library: lintian rejects an embedded copy of libyaml (embedded-library),
# and loading it costs ~0.3 M instructions against the ~1.9 M it saves.
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)  # libyaml-dev
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
