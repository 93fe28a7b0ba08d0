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
# gpuorch's own code uses fmt and spdlog header-only: two shared libraries
# fewer to map and relocate at every start of the CLI (docs/benchmarks.md).
# Everything built here compiles with the same definitions (libgpuorch links
# this PUBLIC in the build tree only); installed consumers of libgpuorch.a need
# neither library, its objects carry what they use.
add_library(gpuorch_logging INTERFACE)
target_compile_definitions(gpuorch_logging INTERFACE SPDLOG_FMT_EXTERNAL)
get_target_property(gpuorch_spdlog_includes spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(gpuorch_logging SYSTEM INTERFACE ${gpuorch_spdlog_includes})
target_link_libraries(gpuorch_logging INTERFACE fmt::fmt-header-only Threads::Threads)
find_package(CURL 7.88 REQUIRED)                     # libcurl4-openssl-dev
# gpuorch's own binaries link libcurl's archive (libcurl4-openssl-dev ships it)
# rather than the shared library, whose LDAP, RTMP, SSH and Kerberos
# dependencies make up most of the shared libraries every start of the CLI
# would map and relocate (docs/benchmarks.md). Those four are left out:
# lib/src/kube/curl_unused.cpp stands in for them, as gpuorch limits libcurl to
# http and https. The rest of libcurl's static dependencies (pkg-config
# --static) stay shared libraries. Installed consumers of libgpuorch link the
# shared libcurl (lib/src/kube/CMakeLists.txt).
option(GPUORCH_STATIC_CURL "Link gpuorch's binaries with libcurl's archive, without its LDAP/RTMP/SSH/GSS-API libraries" ON)
if(GPUORCH_STATIC_CURL)
  # The archive of the libcurl whose headers find_package(CURL) found.
  pkg_check_modules(GPUORCH_CURL_PC REQUIRED libcurl=${CURL_VERSION_STRING})
  find_library(GPUORCH_CURL_ARCHIVE NAMES libcurl.a HINTS "${GPUORCH_CURL_PC_LIBDIR}" REQUIRED)
  # libnghttp2-dev libidn2-dev libpsl-dev libzstd-dev libbrotli-dev: what the
  # archive needs besides libssl-dev and zlib1g-dev.
  set(gpuorch_curl_deps ${GPUORCH_CURL_PC_STATIC_LIBRARIES})
  list(REMOVE_ITEM gpuorch_curl_deps curl ldap lber rtmp ssh2 gssapi_krb5)
  list(REMOVE_DUPLICATES gpuorch_curl_deps)
  foreach(dep IN LISTS gpuorch_curl_deps)
    find_library(GPUORCH_CURL_DEP_${dep} NAMES ${dep} REQUIRED)
  endforeach()
  add_library(gpuorch_curl_unused STATIC "${PROJECT_SOURCE_DIR}/lib/src/kube/curl_unused.cpp")
  set_target_properties(gpuorch_curl_unused PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(gpuorch_curl INTERFACE)
  target_include_directories(gpuorch_curl INTERFACE ${CURL_INCLUDE_DIRS})
  # The archive, then what it refers to: the stand-ins, then the shared libraries.
  target_link_libraries(gpuorch_curl INTERFACE "${GPUORCH_CURL_ARCHIVE}" gpuorch_curl_unused)
  foreach(dep IN LISTS gpuorch_curl_deps)
    target_link_libraries(gpuorch_curl INTERFACE "${GPUORCH_CURL_DEP_${dep}}")
  endforeach()
else()
  add_library(gpuorch_curl INTERFACE)
  target_link_libraries(gpuorch_curl INTERFACE CURL::libcurl)
endif()
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
