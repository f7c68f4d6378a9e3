# smtph_warnings(target): the project's warning set, PRIVATE to each target.
add_library(smtph_warnings INTERFACE)
target_compile_options(smtph_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual 
  -Wimplicit-fallthrough)
if(SMTPH_WERROR)
  target_compile_options(smtph_warnings INTERFACE -Werror)
endif()
if(SMTPH_DEVELOPMENT_CHECKS)
  add_compile_definitions(SMTPH_DEVELOPMENT_CHECKS=1)
endif()
# GCC 12 at -O3 reports -Wrestrict false positives inside libstdc++'s std::string
# (GCC bug 105329, fixed in GCC 13); they are not in our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(smtph_warnings INTERFACE -Wno-restrict)
endif()
# -Wnull-dereference: clang only. GCC 12 at -O3 reports it from inside GoogleTest and Asio
# after inlining (false positives), which -Werror would turn into build failures.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(smtph_warnings INTERFACE -Wnull-dereference)
endif()
