#include "comm/replicas.h"

#include <torch/torch.h>
#include <xxhash.h>

namespace uda::comm {

void broadcast_from_rank0(Communicator& comm, const NamedTensors& tensors) {
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.is_contiguous() ? t : t.contiguous();
    comm.broadcast(c, 0);
    if (!c.is_same(t)) const_cast<at::Tensor&>(t).copy_(c);
  }
}

std::string find_replica_mismatch(Communicator& comm, const NamedTensors& tensors) {
  std::vector<int64_t> hashes;
  for (const auto& [name, t] : tensors) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    hashes.push_back(static_cast<int64_t>(XXH64(c.data_ptr(), c.numel() * c.element_size(), 0)));
  }
  auto mine = torch::tensor(hashes, torch::kLong);
  auto all = comm.all_gather(mine);  // [world, n]
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto col = all.select(1, static_cast<int64_t>(i));
    if (!col.eq(col[0]).all().item<bool>()) {
      std::string s = tensors[i].first + " differs across ranks (checksums";
      for (int64_t r = 0; r < col.numel(); ++r) s += " " + std::to_string(col[r].item<int64_t>());
      return s + ")";
    }
  }
  return "";
}

}  // namespace uda::comm
