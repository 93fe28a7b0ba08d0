# Debian's hardening build flags (what `dpkg-buildflags --get CPPFLAGS|CXXFLAGS|LDFLAGS`
# gives a package built with hardening=+all minus PIE, which CMake's default
# position-independent executables already are) for the targets that ship:
# libgpuorch (libgpuorch-dev), the CLI library and the gpuorch binary. lintian
# reports hardening-no-fortify-functions and hardening-no-bindnow without them.
#
#   -D_FORTIFY_SOURCE=2              checked variants of memcpy, snprintf, read...
#                                    (needs optimisation: release, ci, not dev/asan)
#   -fstack-protector-strong         stack canaries in functions with arrays or addresses taken
#   -Wformat -Werror=format-security no printf with a non-literal format and no arguments
#   -Wl,-z,relro -Wl,-z,now          relocations resolved at start, then made read-only
#
# -z now moves the dynamic symbol lookups of the libraries gpuorch calls to
# start-up: 12,768 -> 16,346 relocations (LD_DEBUG=statistics). Measured in
# docs/benchmarks.md ("Start-up: immediate binding"): no difference above the
# noise for `gpuorch version` and a submit, so every preset has it.
option(GPUORCH_HARDENING "Build the shipped targets with Debian's hardening flags" ON)

function(gpuorch_harden target)
  if(NOT GPUORCH_HARDENING)
    return()
  endif()
  target_compile_options(${target} PRIVATE -fstack-protector-strong -Wformat -Werror=format-security)
  # glibc's fortified functions need the optimiser; with ASan they would hide
  # the overflows the sanitizer is there to report.
  if(NOT GPUORCH_SANITIZE)
    target_compile_options(${target} PRIVATE
      "$<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>")
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE" OR type STREQUAL "SHARED_LIBRARY")
    target_link_options(${target} PRIVATE -Wl,-z,relro -Wl,-z,now)
  endif()
endfunction()

foreach(target gpuorch gpuorch_cli gpuorch_exe)
  gpuorch_harden(${target})
endforeach()
# Linked into the binary with libcurl's archive (cmake/Dependencies.cmake).
if(TARGET gpuorch_curl_unused)
  gpuorch_harden(gpuorch_curl_unused)
endif()

# What tests/package/deb_test.sh may expect lintian to find in this build.
set(GPUORCH_HARDENED_FEATURES "")
if(GPUORCH_HARDENING)
  set(GPUORCH_HARDENED_FEATURES "relro,bindnow")
  if(NOT GPUORCH_SANITIZE AND CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
    string(APPEND GPUORCH_HARDENED_FEATURES ",fortify")
  endif()
endif()
