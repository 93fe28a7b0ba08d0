# Debian packages with CPack (cpack -G DEB in a release build dir, or the
# `package` target): two components, each its own .deb with the DEB-DEFAULT
# file name (<name>_<version>-<release>_<arch>.deb):
#   gpuorch          the tool: binary, kubectl plugin links, man pages, completions
#   libgpuorch-dev   the static library, its headers and the CMake package
# Runtime dependencies are computed by dpkg-shlibdeps. tests/package checks the
# result with lintian and installs it. docs/development.md, "Packages".
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpuorch)
set(CPACK_PACKAGE_VENDOR "gpuorch")
set(CPACK_PACKAGE_CONTACT "gpuorch maintainers <maintainers@gpuorch.io>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# gpuorch is not yet licensed (the maintainers are to decide): the generators
# that show a license get the copyright file that says so, not CPack's default
# (CMake's own license text).
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/packaging/deb/copyright")
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL tool dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)

# Each component's description below starts with its own synopsis line. CPack
# prepends the package-wide summary to them unless that summary is CPack's
# default text, so it is set to exactly that (it appears nowhere else).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")
set(CPACK_DEBIAN_PACKAGE_SOURCE gpuorch)
# dpkg-deb would otherwise take the permissions of the build tree (umask).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME gpuorch)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_TOOL_DESCRIPTION "run GPU workloads on Kubernetes without an operator
gpuorch submits, follows and explains GPU workloads (a GPUWorkload custom
resource) on a Kubernetes cluster. It places them with pluggable strategies
(least loaded, best fit, cost optimised, fragmentation aware), reconciles them
from a CronJob or a long-running Deployment, simulates placement offline on
node snapshots and traces, and ships a local Kubernetes-API-compatible sandbox
with simulated GPU nodes. It is also installed as the kubectl plugin
kubectl-gpuorch.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libgpuorch-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The headers include nlohmann/json.hpp; the static library links the rest.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "nlohmann-json3-dev (>= 3.11), libyaml-cpp-dev (>= 0.7), libyaml-dev (>= 0.2), libcurl4-openssl-dev (>= 7.88), libssl-dev (>= 3), libcpp-httplib-dev, zlib1g-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "C++ library of gpuorch (development files)
libgpuorch is the library behind the gpuorch tool: the GPUWorkload model and
its validation, the placement strategies and simulator, a Kubernetes API
client (kubeconfig, exec plugins, watch, informers, leases), the reconciler
and its metrics. This package has the static library, the C++20 headers and
the CMake package: find_package(gpuorch) and link gpuorch::gpuorch.")

# Each package carries its copyright file, a Debian changelog (gzipped) and
# its lintian overrides.
find_program(GPUORCH_GZIP gzip REQUIRED)
# string(TIMESTAMP) honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP gpuorch_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(GPUORCH_DEB_VERSION "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
configure_file("${PROJECT_SOURCE_DIR}/packaging/deb/changelog.Debian.in"
  "${PROJECT_BINARY_DIR}/packaging/deb/changelog.Debian" @ONLY)
execute_process(COMMAND "${GPUORCH_GZIP}" -9nkf "${PROJECT_BINARY_DIR}/packaging/deb/changelog.Debian"
  COMMAND_ERROR_IS_FATAL ANY)
foreach(pair tool:gpuorch dev:libgpuorch-dev)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES "${PROJECT_SOURCE_DIR}/packaging/deb/copyright"
    "${PROJECT_BINARY_DIR}/packaging/deb/changelog.Debian.gz"
    DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/${package}" COMPONENT ${component})
  # lintian's initial-upload-closes-no-bugs asks for the Debian bug (ITP) a first
  # upload closes; these packages are not uploaded to the Debian archive.
  set(overrides
    "# Built from the gpuorch sources, not uploaded to the Debian archive: no ITP bug to close.\n"
    "${package}: initial-upload-closes-no-bugs\n")
  if(package STREQUAL "gpuorch" AND GPUORCH_STATIC_CURL)
    # cmake/Dependencies.cmake: the binary links Debian's libcurl archive
    # (libcurl4-openssl-dev), without the LDAP/RTMP/SSH/GSS-API libraries of the
    # shared one, for a start-up about 3 ms shorter. A libcurl security update
    # needs a rebuild of this package; -DGPUORCH_STATIC_CURL=OFF links the shared one.
    list(APPEND overrides
      "# Statically linked with Debian's libcurl archive (GPUORCH_STATIC_CURL): a libcurl update needs a rebuild.\n"
      "${package}: embedded-library curl [usr/bin/gpuorch]\n")
  endif()
  file(WRITE "${PROJECT_BINARY_DIR}/packaging/deb/lintian/${package}" ${overrides})
  install(FILES "${PROJECT_BINARY_DIR}/packaging/deb/lintian/${package}"
    DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides" COMPONENT ${component})
endforeach()

include(CPack)
cpack_add_component(tool DISPLAY_NAME "gpuorch tool")
cpack_add_component(dev DISPLAY_NAME "libgpuorch development files")
