# Finds every third-party dependency. All come from Debian packages
# (scripts/install-deps.sh); another libtorch is chosen with -DTorch_DIR=...
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(MPI REQUIRED COMPONENTS C)
find_package(PNG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

# xxHash ships no CMake config in Debian 12.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
find_library(XXHASH_LIBRARY xxhash REQUIRED)
add_library(uda_xxhash INTERFACE)
target_include_directories(uda_xxhash INTERFACE ${XXHASH_INCLUDE_DIR})
target_link_libraries(uda_xxhash INTERFACE ${XXHASH_LIBRARY})

add_library(uda_mpi INTERFACE)
target_link_libraries(uda_mpi INTERFACE MPI::MPI_C)
# Only the C API: the deprecated C++ bindings need a library we do not link.
target_compile_definitions(uda_mpi INTERFACE OMPI_SKIP_MPICXX MPICH_SKIP_MPICXX)

set(UDA_IMAGE_LIBS PNG::PNG ZLIB::ZLIB)

set(UDA_HAVE_CUDA 0)
set(UDA_HAVE_NCCL 0)
if(UDA_WITH_TORCH)
  find_package(Torch REQUIRED)
  add_library(uda_torch INTERFACE)
  # SYSTEM: no warnings from torch's own headers.
  target_include_directories(uda_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(uda_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_options(uda_torch INTERFACE ${TORCH_CXX_FLAGS})
  # PyPI's libtorch.so carries (and exports) pieces of a newer libstdc++ —
  # std::filesystem among them — built for its own toolchain; whichever
  # library comes first in a program's dependency list serves every caller,
  # and torch's copy crashes when called from our code (remove_all jumped to
  # address 0). Naming the system libstdc++ first on every link line keeps
  # std:: on it; torch's extra symbols (e.g. chrono time zones) still resolve
  # to torch. Harmless with Debian's libtorch, which exports none.
  add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
  # PyPI's torch 2.x ships its own {fmt} (v11+) in its include folder, which
  # would shadow Debian's fmt 9 that spdlog and libfmt.so are built with. A
  # folder holding only a link to the system fmt headers, searched before
  # torch's (-I before -isystem), keeps every <fmt/...> on Debian's version.
  foreach(dir ${TORCH_INCLUDE_DIRS})
    if(EXISTS ${dir}/fmt/core.h AND NOT dir STREQUAL "/usr/include")
      find_path(UDA_SYSTEM_FMT_DIR fmt/core.h PATHS /usr/include NO_DEFAULT_PATH REQUIRED)
      set(shim ${CMAKE_BINARY_DIR}/system-fmt)
      file(MAKE_DIRECTORY ${shim})
      file(CREATE_LINK ${UDA_SYSTEM_FMT_DIR}/fmt ${shim}/fmt SYMBOLIC)
      target_include_directories(uda_torch BEFORE INTERFACE ${shim})
      message(STATUS "uda: torch bundles {fmt} in ${dir}; using the system's (${UDA_SYSTEM_FMT_DIR}/fmt) first")
      break()
    endif()
  endforeach()
  # The NCCL backend is compiled only when the chosen libtorch was built with CUDA.
  if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND OR TARGET torch_cuda)
    set(UDA_HAVE_CUDA 1)
    # The NCCL that libtorch itself loads comes first: a PyPI wheel ships it
    # beside torch (site-packages/nvidia/nccl, library libnccl.so.2 only);
    # then $NCCL_HOME and the CUDA toolkit's.
    get_filename_component(uda_wheel_nccl "${TORCH_INSTALL_PREFIX}/../nvidia/nccl" ABSOLUTE)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${uda_wheel_nccl}/include $ENV{NCCL_HOME}/include /usr/local/cuda/include
              NO_DEFAULT_PATH)
    find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR HINTS ${uda_wheel_nccl}/lib $ENV{NCCL_HOME}/lib
                 /usr/local/cuda/lib64 NO_DEFAULT_PATH)
    if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
      set(UDA_HAVE_NCCL 1)
      target_include_directories(uda_torch INTERFACE ${NCCL_INCLUDE_DIR})
      target_link_libraries(uda_torch INTERFACE ${NCCL_LIBRARY})
      message(STATUS "uda: CUDA libtorch found, NCCL backend enabled (${NCCL_LIBRARY})")
    else()
      message(WARNING "uda: CUDA libtorch found but no NCCL; GPU ranks will use MPI")
    endif()
  else()
    message(STATUS "uda: CPU libtorch, NCCL backend left out")
  endif()
  set(UDA_TORCH_VERSION "${Torch_VERSION}")
endif()
