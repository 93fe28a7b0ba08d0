# standard_warnings: the warning set every gpuorch target compiles with.
add_library(standard_warnings INTERFACE)
target_compile_options(standard_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation
  -Wduplicated-cond -Wlogical-op -Wuseless-cast)
if(GPUORCH_WARNINGS_AS_ERRORS)
  target_compile_options(standard_warnings INTERFACE -Werror)
endif()
