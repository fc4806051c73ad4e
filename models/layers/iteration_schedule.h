// State of a layer that follows the training iteration (Dynamic
// Convolution's softmax temperature). The trainer calls
// set_training_iteration(module, iter) on every tracked network before each
// step; layers keep what they derive from it in buffers, so it is
// checkpointed with the network and restored on resume.
#pragma once

#include <cstdint>

namespace torch::nn {
class Module;
}

namespace uda::models {

class IterationScheduled {
 public:
  virtual ~IterationScheduled() = default;
  virtual void set_iteration(int64_t iter) = 0;
};

// set_iteration(iter) on `module` and each of its descendants that is
// IterationScheduled.
void set_training_iteration(torch::nn::Module& module, int64_t iter);

}  // namespace uda::models
