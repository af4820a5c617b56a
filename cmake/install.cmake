# `cmake --install build --prefix P`: libdcgan (.a and .so, one CMake package `dcgan` with
# targets dcgan::dcgan (shared, with the C API), dcgan::dcgan_static and dcgan::onnx (the ONNX
# exporter, present when the user's machine has ONNX), the public headers and dcgan.pc.
# Checked by tests/e2e/test_install.cpp, which builds tests/install/ against an installed copy.
include(CMakePackageConfigHelpers)
set(DCGAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dcgan)

set_target_properties(dcgan_lib PROPERTIES EXPORT_NAME dcgan_static)
install(TARGETS dcgan_lib dcgan_shared EXPORT dcganTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS dcgan_onnx EXPORT dcganOnnxTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/dcgan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT dcganTargets NAMESPACE dcgan:: DESTINATION ${DCGAN_CMAKE_DIR})
install(EXPORT dcganOnnxTargets NAMESPACE dcgan:: DESTINATION ${DCGAN_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dcganConfig.cmake.in
  ${CMAKE_BINARY_DIR}/dcganConfig.cmake INSTALL_DESTINATION ${DCGAN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/dcganConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/dcganConfig.cmake ${CMAKE_BINARY_DIR}/dcganConfigVersion.cmake
  DESTINATION ${DCGAN_CMAKE_DIR})

# dcgan.pc finds the prefix from its own place (${pcfiledir}), so it is right for whatever
# --prefix the install is given, not only for CMAKE_INSTALL_PREFIX at configure time.
set(DCGAN_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(DCGAN_PC_PREFIX "\${pcfiledir}")
string(REPLACE "/" ";" _dcgan_pc_parts "${DCGAN_PC_DIR}")
foreach(_part ${_dcgan_pc_parts})
  string(APPEND DCGAN_PC_PREFIX "/..")
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/dcgan.pc.in ${CMAKE_BINARY_DIR}/dcgan.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/dcgan.pc DESTINATION ${DCGAN_PC_DIR})
