# Finds OpenCV's core and imgproc from Debian's per-module -dev packages
# (libopencv-imgproc-dev), which ship no OpenCVConfig.cmake. Provides the
# variables and targets OpenCV's own config would: OpenCV_INCLUDE_DIRS,
# OpenCV_LIBS, opencv_core, opencv_imgproc.
find_path(OpenCV_INCLUDE_DIR opencv2/imgproc.hpp PATH_SUFFIXES opencv4)
find_library(OpenCV_core_LIBRARY opencv_core)
find_library(OpenCV_imgproc_LIBRARY opencv_imgproc)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenCV REQUIRED_VARS OpenCV_INCLUDE_DIR OpenCV_core_LIBRARY OpenCV_imgproc_LIBRARY)
if(OpenCV_FOUND)
  set(OpenCV_INCLUDE_DIRS ${OpenCV_INCLUDE_DIR})
  foreach(m core imgproc)
    if(NOT TARGET opencv_${m})
      add_library(opencv_${m} UNKNOWN IMPORTED)
      set_target_properties(opencv_${m} PROPERTIES IMPORTED_LOCATION ${OpenCV_${m}_LIBRARY}
                            INTERFACE_INCLUDE_DIRECTORIES ${OpenCV_INCLUDE_DIR})
    endif()
  endforeach()
  set(OpenCV_LIBS opencv_core opencv_imgproc)
endif()
