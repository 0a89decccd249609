# smtpcheck_embed_text(TARGET target FILE data-file SYMBOL name)
# Turns a data file (defaults, catalogs) into a translation unit that defines
#   std::string_view smtpcheck::embedded::<name>()
# so the data stays a file in the tree while the binary needs nothing at run time.
function(smtpcheck_embed_text)
  cmake_parse_arguments(E "" "TARGET;FILE;SYMBOL" "" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_${E_SYMBOL}.cpp")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DIN=${E_FILE} -DOUT=${out} -DSYMBOL=${E_SYMBOL}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_text_run.cmake"
    DEPENDS "${E_FILE}" "${PROJECT_SOURCE_DIR}/cmake/embed_text_run.cmake"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE "${out}")
endfunction()
