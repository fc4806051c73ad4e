// Reading PyTorch .pth files (torch.save's zip format) without torch.
//
// The archive's data.pkl is decoded by the safe unpickler (storage/unpickler.h),
// tensors are materialised as contiguous TensorData. Typical use:
//   StateDict sd = read_pth_state_dict("daformer.pth");   // bare or {"state_dict": ...}
//   StateDict student = select_prefix(sd, "model.");        // "model.backbone.x" -> "backbone.x"
#pragma once

#include "storage/py_value.h"
#include "storage/tensor_data.h"

#include <string>

namespace uda::storage {

// The whole object stored in the file. UserError naming the file for
// anything unreadable, corrupt or unsupported (non-tensor-state content).
PyValuePtr read_pth(const std::string& path);

// The tensors of a state dict: `root` itself when it is a dict of tensors,
// else root["state_dict"] (mmseg/DAFormer checkpoints: {"meta", "state_dict"}).
// Non-tensor values inside the state dict are a UserError (`where` names the
// file). Keys keep their order.
StateDict state_dict_from(const PyValue& root, const std::string& where);

// read_pth + state_dict_from.
StateDict read_pth_state_dict(const std::string& path);

// The entries whose key starts with `prefix`, with the prefix removed
// ("ema_model." selects the EMA teacher of a DAFormer checkpoint).
StateDict select_prefix(const StateDict& sd, const std::string& prefix);

}  // namespace uda::storage
