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
  # The NCCL backend is compiled only when the chosen libtorch was built with CUDA.
  if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND OR TARGET torch_cuda)
    set(UDA_HAVE_CUDA 1)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS /usr/local/cuda/include $ENV{NCCL_HOME}/include)
    find_library(NCCL_LIBRARY nccl HINTS /usr/local/cuda/lib64 $ENV{NCCL_HOME}/lib
                 /usr/local/lib/python3*/dist-packages/nvidia/nccl/lib)
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
