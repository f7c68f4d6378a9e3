# smtph_warnings(target): the project's warning set, PRIVATE to each target.
add_library(smtph_warnings INTERFACE)
target_compile_options(smtph_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
  -Wimplicit-fallthrough)
if(SMTPH_WERROR)
  target_compile_options(smtph_warnings INTERFACE -Werror)
endif()
if(SMTPH_DEVELOPMENT_CHECKS)
  add_compile_definitions(SMTPH_DEVELOPMENT_CHECKS=1)
endif()
