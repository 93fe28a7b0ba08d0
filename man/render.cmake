# cmake -DSCDOC=scdoc -DIN=page.1.scd -DOUT=page.1 -P render.cmake
# Renders one page; scdoc's syntax errors fail the build with the file name.
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${IN}" OUTPUT_FILE "${OUT}"
  RESULT_VARIABLE result ERROR_VARIABLE error)
if(NOT result EQUAL 0)
  file(REMOVE "${OUT}")
  message(FATAL_ERROR "${IN}: ${error}")
endif()
