# packaging/cpack.cmake - the Debian package (CPack's DEB generator), included from the top
# CMakeLists.txt after every install() rule is known. tools/package runs it over a Release
# build with CMAKE_INSTALL_PREFIX=/usr, the prefix the unit, spate.conf and the man pages'
# FILES section are written for: the package holds exactly what `cmake --install` installs.

set(SPATE_PACKAGE_MAINTAINER "Spate maintainers <maintainers@users.noreply.r-seed-9eeeebd4.example>"
    CACHE STRING "the .deb's Maintainer field")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME spate)
set(CPACK_PACKAGE_VENDOR "the Spate authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${SPATE_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SPATE_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "web server with one io_uring loop per CPU")
# Set explicitly: otherwise include(CPack) takes CMake's own placeholder text for it. CPack puts
# the summary above it and indents it as Debian's control format wants.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Spate serves static and dynamic content from one worker thread per CPU, each\n"
    "with its own io_uring loop, listening sockets and open-file cache: HTTP/1.1 and\n"
    "HTTP/2, TLS with OpenSSL 3, CGI, FastCGI and a reverse proxy, configured by an\n"
    "nginx-style file. This package runs it under systemd as www-data with only\n"
    "CAP_NET_BIND_SERVICE, logs to /var/log/spate, rotated by logrotate.")
string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # spate_VERSION_ARCH.deb, as Debian names them
# The libraries' packages from the binary's NEEDED entries (dpkg-shlibdeps, package dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What no library link says: spate.conf's types_file is /etc/mime.types (media-types); the
# logrotate snippet is used when logrotate is there.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "media-types")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
# The virtual packages of Debian's web servers (what nginx and apache2 provide).
set(CPACK_DEBIAN_PACKAGE_PROVIDES "httpd, httpd-cgi")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Conffiles: dpkg keeps an administrator's edits to these across upgrades (and asks), and
# leaves them on `apt remove` (until purge). CPack, unlike debhelper, marks none by itself.
set(SPATE_CONFFILES ${CMAKE_BINARY_DIR}/packaging/conffiles)
file(WRITE ${SPATE_CONFFILES}
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/spate/spate.conf\n"
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/spate\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${SPATE_CONFFILES})

include(CPack)
