# smtpcheck_library(<name> SOURCES ... [PUBLIC libs...] [PRIVATE libs...])
# Defines the static library smtpcheck_<name> with the alias and exported name
# smtpcheck::<name>, its include/ folder as public include directory, and the project's
# warnings.
function(smtpcheck_library name)
  cmake_parse_arguments(L "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(smtpcheck_${name} STATIC ${L_SOURCES})
  add_library(smtpcheck::${name} ALIAS smtpcheck_${name})
  set_target_properties(smtpcheck_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(smtpcheck_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(smtpcheck_${name} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE} smtpcheck_warnings)
endfunction()
