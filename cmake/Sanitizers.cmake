# Sanitizers apply to every target of the build (library, CLI, tests) so that
# instrumented and uninstrumented code never mix.
if(GPUORCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
