# Writes gpuorch/version.hpp from lib/version.hpp.in with the current git
# commit. Run on every build (script mode) so `gpuorch version` never reports a
# stale commit; configure_file leaves the header untouched when nothing
# changed, so an unchanged commit rebuilds nothing.
#   cmake -DSOURCE_DIR=... -DIN=... -DOUT=... -DPROJECT_VERSION=... -DCMAKE_CXX_COMPILER_ID=...
#         -DCMAKE_CXX_COMPILER_VERSION=... -DCMAKE_BUILD_TYPE=... [-DGIT_EXECUTABLE=git] -P GitVersion.cmake
set(GPUORCH_GIT_COMMIT "unknown")
if(NOT GIT_EXECUTABLE)
  find_program(GIT_EXECUTABLE git)
endif()
if(GIT_EXECUTABLE AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
    WORKING_DIRECTORY "${SOURCE_DIR}"
    OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE result ERROR_QUIET)
  if(result EQUAL 0 AND commit)
    set(GPUORCH_GIT_COMMIT "${commit}")
  endif()
endif()
configure_file("${IN}" "${OUT}" @ONLY)
