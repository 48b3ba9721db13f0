# What `cmake --install` puts where (GNUInstallDirs, relative to the prefix):
#   bin/            wufeid, wufei, wufei-demo
#   lib/            libwufei_client.a, pkgconfig/wufei.pc
#   include/wufei/  wfclient.h (the C client library's header)
#   share/wufei/    catalogue.tsv (found by an installed wufeid), demo/shaoxing.day
#   share/doc/wufei/ wufeid.conf.example and the protocol, CLI and operator guides
#   lib/systemd/system/wufeid.service
#   the Python package `wufei` in the Debian python3's dist-packages
#     (lib/python3/dist-packages under prefix /usr, lib/python3.X/dist-packages
#     under any other prefix, e.g. /usr/local: the folders Debian's python3
#     searches), unless WUFEI_INSTALL_PYTHONDIR names another folder
# wufei.pc and wufeid.service name absolute paths and the Python folder
# depends on the prefix; all three are settled at install time for the
# prefix given then (`cmake --install build --prefix P` works as well as
# CMAKE_INSTALL_PREFIX), and honour DESTDIR.

# The Python interpreter for the Python client's tests and install folder:
# Debian's own python3, which python3-zmq and python3-msgpack serve (a
# python3 earlier on PATH, such as a pyenv shim, may lack them).
if(EXISTS /usr/bin/python3)
  set(_wufei_py_default /usr/bin/python3)
else()
  find_program(_wufei_py_default python3)
endif()
set(WUFEI_PYTHON "${_wufei_py_default}" CACHE FILEPATH "python3 with the zmq and msgpack modules")
execute_process(COMMAND "${WUFEI_PYTHON}" -c "import sys; print('%d.%d' % sys.version_info[:2])"
                OUTPUT_VARIABLE WUFEI_PYTHON_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _wufei_py_rc ERROR_QUIET)
if(NOT _wufei_py_rc EQUAL 0)
  set(WUFEI_PYTHON_VERSION 3)
endif()
set(WUFEI_INSTALL_PYTHONDIR "" CACHE STRING
    "Folder (relative to the prefix) for the Python package wufei; empty: Debian's dist-packages for the prefix")
set(WUFEI_INSTALL_SYSTEMDDIR "lib/systemd/system" CACHE STRING
    "Folder (relative to the prefix) for wufeid.service")

install(TARGETS wufeid wufei wufei-demo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS wufei_client ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/clients/wfclient.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wufei)
install(FILES ${CMAKE_SOURCE_DIR}/data/catalogue.tsv DESTINATION ${CMAKE_INSTALL_DATADIR}/wufei)
install(FILES ${CMAKE_SOURCE_DIR}/demo/shaoxing.day DESTINATION ${CMAKE_INSTALL_DATADIR}/wufei/demo)
install(FILES ${CMAKE_SOURCE_DIR}/dist/wufeid.conf.example
              ${CMAKE_SOURCE_DIR}/docs/protocol.md ${CMAKE_SOURCE_DIR}/docs/cli.md
              ${CMAKE_SOURCE_DIR}/docs/catalogue.md ${CMAKE_SOURCE_DIR}/docs/operator.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Files whose place or contents depend on the install-time prefix.
install(CODE "
  set(_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(_pydir \"${WUFEI_INSTALL_PYTHONDIR}\")
  if(NOT _pydir AND _prefix STREQUAL \"/usr\")
    set(_pydir lib/python3/dist-packages)
  elseif(NOT _pydir)
    set(_pydir lib/python${WUFEI_PYTHON_VERSION}/dist-packages)
  endif()
  file(INSTALL DESTINATION \"\${_prefix}/\${_pydir}\" TYPE DIRECTORY
       FILES \"${CMAKE_SOURCE_DIR}/clients/python/wufei\"
       FILES_MATCHING PATTERN \"*.py\" PATTERN \"__pycache__\" EXCLUDE)
  if(_prefix STREQUAL \"/usr\")
    set(WUFEI_SYSCONFDIR /etc)
  else()
    set(WUFEI_SYSCONFDIR \"\${_prefix}/etc\")
  endif()
  set(WUFEI_PREFIX \"\${_prefix}\")
  set(WUFEI_BINDIR \"\${_prefix}/${CMAKE_INSTALL_BINDIR}\")
  set(WUFEI_LIBDIR \"\${_prefix}/${CMAKE_INSTALL_LIBDIR}\")
  set(WUFEI_INCLUDEDIR \"\${_prefix}/${CMAKE_INSTALL_INCLUDEDIR}\")
  set(WUFEI_VERSION \"${PROJECT_VERSION}\")
  foreach(_pair \"wufei.pc.in|${CMAKE_INSTALL_LIBDIR}/pkgconfig/wufei.pc\"
                \"wufeid.service.in|${WUFEI_INSTALL_SYSTEMDDIR}/wufeid.service\")
    string(REPLACE \"|\" \";\" _pair \"\${_pair}\")
    list(GET _pair 0 _in)
    list(GET _pair 1 _out)
    set(_dest \"\$ENV{DESTDIR}\${_prefix}/\${_out}\")
    message(STATUS \"Installing: \${_dest}\")
    configure_file(\"${CMAKE_SOURCE_DIR}/dist/\${_in}\" \"\${_dest}\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_dest}\")
  endforeach()
")
