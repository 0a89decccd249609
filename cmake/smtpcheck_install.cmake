# Installs the libraries, headers and a CMake package so that a host program can
# find_package(smtpcheck CONFIG) and link smtpcheck::server (SPEC section 5).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS smtpcheck_asio smtpcheck_core smtpcheck_smtp smtpcheck_auth smtpcheck_store smtpcheck_serialization smtpcheck_server smtpcheck_warnings EXPORT smtpcheckTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS smtpcheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY server/include/ smtp/include/ auth/include/ store/include/ serialization/include/ core/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT smtpcheckTargets NAMESPACE smtpcheck:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpcheck)
configure_package_config_file(cmake/smtpcheckConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/smtpcheckConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpcheck)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/smtpcheckConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/smtpcheckConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/smtpcheckConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpcheck)
