# Writes ${CMAKE_CURRENT_BINARY_DIR}/packtrack.pc from packtrack.pc.in for the
# chosen options. The prefix is relative to the .pc file (${pcfiledir}), so
# `cmake --install --prefix ANYWHERE` gives a working file.
#   header-only (default): the implementation lands in the user's program;
#     Libs/Requires are the libraries it needs.
#   PACKTRACK_BUILD_LIBRARY: Libs adds -L${libdir} -lpacktrack. Only a static
#     archive is installed, so its libraries are needed by every link: they
#     stay in Libs/Requires, not in the .private fields (`pkg-config --static`
#     would also drag in libcurl's own private libraries, which most systems
#     do not have as link-time files).
set(_pc_requires "")
set(_pc_libs "")
set(_pc_cflags "")
foreach(_opt PACKTRACK_USE_CURL PACKTRACK_USE_ZLIB PACKTRACK_USE_LIBDEFLATE
             PACKTRACK_NO_THREADS PACKTRACK_NO_SOCKETS PACKTRACK_NO_SPOOL PACKTRACK_NO_DEFLATE
             PACKTRACK_NO_SYNC_API PACKTRACK_NO_ENV PACKTRACK_NO_PROMETHEUS PACKTRACK_NO_STEPS
             PACKTRACK_NO_TRACK_JSON PACKTRACK_NO_RAW_JSON PACKTRACK_NO_DEFAULTS)
  if(${_opt})
    string(APPEND _pc_cflags " -D${_opt}")
  endif()
endforeach()

# A dependency goes in as a pkg-config module when this machine has one for
# it, else as a plain -l flag.
find_package(PkgConfig QUIET)
macro(_pt_pc_dep module flag)
  set(_pt_pc_has OFF)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(_PT_PC_${module} QUIET ${module})
    if(_PT_PC_${module}_FOUND)
      set(_pt_pc_has ON)
    endif()
  endif()
  if(_pt_pc_has)
    list(APPEND _pc_requires ${module})
  else()
    list(APPEND _pc_libs ${flag})
  endif()
endmacro()
if(PACKTRACK_USE_CURL)
  _pt_pc_dep(libcurl -lcurl)
endif()
if(PACKTRACK_USE_ZLIB)
  _pt_pc_dep(zlib -lz)
endif()
if(PACKTRACK_USE_LIBDEFLATE)
  _pt_pc_dep(libdeflate -ldeflate)
endif()
if(WIN32)
  list(APPEND _pc_libs -lws2_32)
elseif(NOT PACKTRACK_NO_THREADS)
  list(APPEND _pc_libs -pthread)
endif()
list(JOIN _pc_requires " " _pc_requires)
list(JOIN _pc_libs " " _pc_libs)

if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _pt_up "/pt/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/pt")
  string(REGEX REPLACE "/$" "" _pt_up "${_pt_up}")
  set(PT_PC_PREFIX "\${pcfiledir}/${_pt_up}")
endif()
set(PT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
set(PT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(PT_PC_CFLAGS "${_pc_cflags}")
if(PACKTRACK_BUILD_LIBRARY)
  set(PT_PC_KIND "static library")
  set(PT_PC_LIBS "-L\${libdir} -lpacktrack ${_pc_libs}")
else()
  set(PT_PC_KIND "single header; define PACKTRACK_IMPLEMENTATION in one file")
  set(PT_PC_LIBS "${_pc_libs}")
endif()
set(PT_PC_REQUIRES "${_pc_requires}")
string(STRIP "${PT_PC_LIBS}" PT_PC_LIBS)
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/packtrack.pc.in" "${CMAKE_CURRENT_BINARY_DIR}/packtrack.pc" @ONLY)
