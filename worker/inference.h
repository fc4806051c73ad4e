// Offline use of trained or official weights: evaluation (`uda eval`),
// prediction (`uda infer`) and export to PyTorch (`uda export`).
#pragma once

#include "comm/communicator.h"
#include "storage/tensor_data.h"

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>

namespace uda::config {
class Config;
}
namespace uda::models {
class SegmentorImpl;
}

namespace uda::worker {

// The tensors behind `weights`: a checkpoint directory (iter_N), a run
// directory (its latest complete checkpoint) or an official .pth file.
// `where` receives a description for messages.
storage::StateDict read_weights(const std::string& weights, std::string* where = nullptr);

// "model." for the student, "ema_model." for the teacher when present in
// `sd`; "" for a bare segmentor state dict. UserError when `which` is
// teacher and there is none.
std::string network_prefix(const storage::StateDict& sd, const std::string& which, const std::string& where);

// The segmentor of `cfg` with the selected network's weights, in eval mode.
std::shared_ptr<models::SegmentorImpl> load_segmentor(const config::Config& cfg, const std::string& weights,
                                                      const std::string& which);

// The network of `cfg` — a segmentor or a classifier (model.head.type
// linear | mlp) — with the selected weights, in eval mode, as a prediction
// function (logits [N, C, H, W] or [N, C]).
std::function<at::Tensor(const at::Tensor&)> load_predictor(const config::Config& cfg, const std::string& weights,
                                                           const std::string& which);

// The metrics of training's evaluation records on `dataset` (a converted
// dataset directory) or, without one, on what training evaluates: data.val
// (mIoU, per-class IoU, accuracy, class names) or, for domain
// generalization, every domain's in and out split with the summaries
// (worker/data_streams.h make_eval_suite). Sharded over the ranks of `comm`.
nlohmann::json evaluate_weights(const config::Config& cfg, const std::string& weights, const std::string& which,
                                const std::string& dataset, comm::Communicator& comm);

// The selected network as a bare state dict (official key names, no prefix).
storage::StateDict export_network(const std::string& weights, const std::string& which);

struct InferOptions {
  std::string images_dir;  // PNG/JPEG files
  std::string input_h5;    // or an HDF5 file with dataset "images" (N,3,H,W float, normalised)
  std::string out_dir;
  std::string which = "student";
  bool save_logits = false;  // <out>/logits.h5
};
// Writes <out>/<name>.png colourised with the Cityscapes palette (label_palette.h) per image.
// Returns the number of images predicted.
int infer(const config::Config& cfg, const std::string& weights, const InferOptions& options);

}  // namespace uda::worker
