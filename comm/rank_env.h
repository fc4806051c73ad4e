// Where this process sits in the job, read from the launcher's environment
// (Open MPI, PMIx, SLURM) before MPI is initialised.
#pragma once

#include <string>

namespace uda::comm {

struct RankEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_size = 1;
  std::string source;  // "openmpi", "pmix", "slurm" or "single"
};

// Reads OMPI_COMM_WORLD_*, then PMIX_RANK, then SLURM_PROCID/NTASKS/LOCALID.
RankEnv detect_rank_env();
// True when this process was started by mpirun/srun as one of several ranks.
bool launched_as_rank();

}  // namespace uda::comm
