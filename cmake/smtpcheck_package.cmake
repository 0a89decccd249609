# The Debian package `smtpcheck` (issue 13), made by `cpack -G DEB` in the build directory
# (scripts/package): the executable, its manual page, the configuration
# /etc/smtpcheck/smtpcheck.ini (a conffile) and the systemd unit, from packaging/.
#
# Everything the package holds is the install component `runtime`, and every rule of it is
# EXCLUDE_FROM_ALL: a plain `cmake --install` (the library package of
# smtpcheck_install.cmake, test/example_embed.sh) neither writes to /etc or /lib/systemd nor
# needs help2man; only CPack, which installs the component by name, does.

# Only where smtpcheck is the top-level project: a host program that embeds it with
# add_subdirectory() makes its own packages.
if(NOT PROJECT_IS_TOP_LEVEL)
  return()
endif()

# cpack installs what is built and builds nothing (its "preinstall" step would otherwise
# `make all` first): scripts/package builds before, and the ctest entry package.deb must not
# rebuild. Side effect: `make install` no longer builds first either (cmake --install never did).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# Full RELRO for the executable the package installs (lintian: hardening-no-bindnow).
target_link_options(smtpcheck PRIVATE LINKER:-z,relro,-z,now)

set(_pkg_src "${PROJECT_SOURCE_DIR}/packaging")
set(_pkg_gen "${PROJECT_BINARY_DIR}/packaging")

install(TARGETS smtpcheck RUNTIME DESTINATION bin COMPONENT runtime EXCLUDE_FROM_ALL)

# The manual page, made from `smtpcheck --help` and `--version` by help2man when the component
# is installed (so from the binary being packaged), and gzip -9n'd as Debian wants
# (lintian: no timestamp, best compression); the Debian changelog likewise.
install(CODE "
  file(MAKE_DIRECTORY \"${_pkg_gen}\")
  execute_process(
    COMMAND help2man --no-info --section=1
            \"--name=tests SMTP accounts over a SuperOffice-compatible WebAPI\"
            \"--include=${_pkg_src}/smtpcheck.h2m\"
            \"--output=${_pkg_gen}/smtpcheck.1\" \"$<TARGET_FILE:smtpcheck>\"
    COMMAND_ERROR_IS_FATAL ANY)
  file(REMOVE \"${_pkg_gen}/smtpcheck.1.gz\" \"${_pkg_gen}/changelog.Debian.gz\")
  file(COPY_FILE \"${_pkg_src}/changelog\" \"${_pkg_gen}/changelog.Debian\")
  execute_process(COMMAND gzip -9n \"${_pkg_gen}/smtpcheck.1\" \"${_pkg_gen}/changelog.Debian\"
    COMMAND_ERROR_IS_FATAL ANY)
" COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES "${_pkg_gen}/smtpcheck.1.gz" DESTINATION share/man/man1 COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES "${_pkg_src}/copyright" "${_pkg_gen}/changelog.Debian.gz"
  DESTINATION share/doc/smtpcheck COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES "${_pkg_src}/lintian-overrides" DESTINATION share/lintian/overrides RENAME smtpcheck
  COMPONENT runtime EXCLUDE_FROM_ALL)
# Absolute destinations: the package's root is /, its prefix /usr (CPACK_PACKAGING_INSTALL_PREFIX).
install(FILES "${_pkg_src}/smtpcheck.ini" DESTINATION /etc/smtpcheck COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES "${_pkg_src}/smtpcheck.service" DESTINATION /lib/systemd/system COMPONENT runtime EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smtpcheck)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/package")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "smtpcheck authors <smtpcheck@example.com>")
set(CPACK_STRIP_FILES ON)
# Only the runtime component, as one package named smtpcheck (not smtpcheck-runtime).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME smtpcheck)
# smtpcheck_<version>-<release>_<arch>.deb; the release matches packaging/changelog.
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: from the libraries the binary links (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "test SMTP accounts over a SuperOffice-compatible WebAPI
smtpcheck is an HTTP API server that tests an SMTP account on request: it
connects to the server of an SmtpUri, negotiates TLS and authentication, sends
a test message and answers what happened, as the SuperOffice WebAPI's
TestSmtpServer does, with a diagnosis that says how to fix a failure.
.
This package holds the smtpcheck command, its configuration in /etc/smtpcheck
and a hardened systemd unit, smtpcheck.service, that serves on 127.0.0.1:8080.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA "${_pkg_src}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
