#include "comm/rank_env.h"

#include <cstdlib>
#include <string>

namespace uda::comm {

namespace {
bool read_int(const char* name, int* out) {
  const char* v = std::getenv(name);
  if (!v || !*v) return false;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0') return false;
  *out = static_cast<int>(x);
  return true;
}
}  // namespace

RankEnv detect_rank_env() {
  RankEnv e;
  if (read_int("OMPI_COMM_WORLD_RANK", &e.rank) && read_int("OMPI_COMM_WORLD_SIZE", &e.world_size)) {
    read_int("OMPI_COMM_WORLD_LOCAL_RANK", &e.local_rank);
    read_int("OMPI_COMM_WORLD_LOCAL_SIZE", &e.local_size);
    e.source = "openmpi";
    return e;
  }
  if (read_int("PMIX_RANK", &e.rank)) {
    // srun --mpi=pmix sets SLURM_* alongside; prefer them for sizes.
    read_int("SLURM_NTASKS", &e.world_size);
    read_int("SLURM_LOCALID", &e.local_rank);
    read_int("SLURM_NTASKS_PER_NODE", &e.local_size);
    e.source = "pmix";
    return e;
  }
  if (read_int("SLURM_PROCID", &e.rank) && read_int("SLURM_NTASKS", &e.world_size)) {
    read_int("SLURM_LOCALID", &e.local_rank);
    read_int("SLURM_NTASKS_PER_NODE", &e.local_size);
    e.source = "slurm";
    return e;
  }
  e.source = "single";
  return e;
}

bool launched_as_rank() { return detect_rank_env().source != "single"; }

}  // namespace uda::comm
