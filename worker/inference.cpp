#include "worker/inference.h"

#include "core/config.h"
#include "core/error.h"
#include "data/image_io.h"
#include "models/builder.h"
#include "models/ops.h"
#include "models/weights.h"
#include "storage/checkpoint_files.h"
#include "worker/data_streams.h"
#include "worker/evaluator.h"
#include "worker/robust_eval.h"
#include "worker/label_palette.h"

#include <hdf5.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace uda::worker {

namespace {

storage::StateDict from_checkpoint(const storage::LoadedCheckpoint& ck) {
  storage::StateDict sd;
  for (const auto& t : ck.replicated) sd.emplace_back(t.name, t.data);
  return sd;
}

std::array<double, 3> triple(const config::Config& cfg, const std::string& key) {
  auto v = cfg.get<std::vector<double>>(key);
  if (v.size() != 3) throw UserError("expected 3 values", key, "give one value per RGB channel");
  return {v[0], v[1], v[2]};
}

}  // namespace

storage::StateDict read_weights(const std::string& weights, std::string* where) {
  if (!fs::exists(weights))
    throw UserError("weights not found", weights, "give a checkpoint directory, a run directory or a .pth file");
  if (fs::is_directory(weights)) {
    if (fs::exists(fs::path(weights) / "manifest.json")) {
      if (where) *where = weights;
      return from_checkpoint(storage::load_checkpoint(weights));
    }
    auto ck = storage::load_latest_checkpoint(weights);
    if (!ck)
      throw UserError("no checkpoint in this directory", weights,
                      "give a run directory with checkpoints/, a checkpoint iter_N directory or a .pth file");
    if (where) *where = ck->path;
    return from_checkpoint(*ck);
  }
  if (where) *where = weights;
  return models::read_pth(weights);
}

std::string network_prefix(const storage::StateDict& sd, const std::string& which, const std::string& where) {
  auto has = [&](const std::string& p) {
    return std::any_of(sd.begin(), sd.end(), [&](const auto& kv) { return kv.first.rfind(p, 0) == 0; });
  };
  if (which == "teacher") {
    if (!has("ema_model."))
      throw UserError("no teacher (ema_model.*) in these weights", where,
                      "use --which student, or weights of a method with an EMA teacher");
    return "ema_model.";
  }
  if (which != "student") throw UserError("unknown --which '" + which + "'", "--which", "use student or teacher");
  return has("model.") ? "model." : "";
}

namespace {
// The selected network's tensors of `weights`, loaded strictly into `net`.
void load_weights_into(torch::nn::Module& net, const std::string& weights, const std::string& which) {
  std::string where;
  auto sd = read_weights(weights, &where);
  models::LoadOptions lo;
  lo.prefix = network_prefix(sd, which, where);
  lo.source = where;
  lo.strict = true;
  auto report = models::load_state_dict(net, sd, lo);
  spdlog::info("loaded {} ({}): {}", where, lo.prefix.empty() ? "state dict" : lo.prefix, report.summary());
  net.eval();
}
}  // namespace

std::shared_ptr<models::SegmentorImpl> load_segmentor(const config::Config& cfg, const std::string& weights,
                                                      const std::string& which) {
  auto spec = models::model_spec(cfg);
  spec.pretrained.clear();  // the weights below replace any initialisation
  auto net = models::build_segmentor(spec);
  load_weights_into(*net, weights, which);
  return net;
}

PredictFn load_predictor(const config::Config& cfg, const std::string& weights, const std::string& which) {
  auto spec = models::model_spec(cfg);
  if (!models::is_classifier_head(spec.head)) {
    auto net = load_segmentor(cfg, weights, which);
    return [net](const at::Tensor& x) { return net->predict(x); };
  }
  spec.pretrained.clear();  // the weights below replace any initialisation
  auto net = models::build_classifier(spec);
  load_weights_into(*net, weights, which);
  return [net](const at::Tensor& x) { return net->forward(x); };
}

nlohmann::json evaluate_weights(const config::Config& cfg, const std::string& weights, const std::string& which,
                                const std::string& dataset, comm::Communicator& comm) {
  const auto predict = load_predictor(cfg, weights, which);
  std::unique_ptr<EvalSuite> suite =
      dataset.empty() ? make_eval_suite(cfg, comm.rank(), comm.size(), torch::kCPU)
                      : single_set(make_eval_stream_for(cfg, dataset, comm.rank(), comm.size(), torch::kCPU));
  if (!suite)
    throw UserError("nothing to evaluate on", "data.val.path", "set data.val.path or pass --dataset DIR");
  const auto attack = make_eval_attack(cfg, predict, torch::kCPU);
  auto j = evaluate_suite(predict, *suite, comm, nullptr, {}, attack ? &*attack : nullptr);
  j["weights"] = weights;
  j["dataset"] = dataset.empty() ? cfg.get<std::string>(cfg.get<bool>("data.source.per_domain_batches")
                                                             ? "data.source.path"
                                                             : "data.val.path")
                                 : dataset;
  return j;
}

storage::StateDict export_network(const std::string& weights, const std::string& which) {
  std::string where;
  auto sd = read_weights(weights, &where);
  const std::string prefix = network_prefix(sd, which, where);
  storage::StateDict out;
  for (auto& [name, t] : sd)
    if (name.rfind(prefix, 0) == 0 && name.rfind("optim.", 0) != 0) out.emplace_back(name.substr(prefix.size()), t);
  if (out.empty()) throw UserError("no network tensors found", where, "check --which and the weights path");
  return out;
}

int infer(const config::Config& cfg, const std::string& weights, const InferOptions& o) {
  auto net = load_segmentor(cfg, weights, o.which);
  fs::create_directories(o.out_dir);
  const auto mean = triple(cfg, "data.val.mean"), stdv = triple(cfg, "data.val.std");
  std::vector<std::pair<std::string, at::Tensor>> inputs;  // name, normalised (1,3,H,W)
  if (!o.images_dir.empty()) {
    if (!fs::is_directory(o.images_dir))
      throw UserError("image directory not found", o.images_dir, "give a directory of .png/.jpg files");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(o.images_dir)) {
      auto ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw UserError("no .png/.jpg images", o.images_dir, "put the images to segment there");
    for (const auto& f : files) {
      auto img = data::read_rgb_image(f.string());
      auto t = torch::from_blob(img.pixels.data(), {img.height, img.width, 3}, torch::kUInt8)
                   .permute({2, 0, 1})
                   .unsqueeze(0)
                   .to(torch::kFloat);
      inputs.emplace_back(f.stem().string(), models::normalize_rgb(t, mean, stdv));
    }
  } else {
    hid_t file = H5Fopen(o.input_h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) throw UserError("cannot open HDF5 input", o.input_h5, "give an HDF5 file with dataset 'images'");
    hid_t ds = H5Dopen2(file, "images", H5P_DEFAULT);
    if (ds < 0) {
      H5Fclose(file);
      throw UserError("no dataset 'images'", o.input_h5, "store the inputs as images (N,3,H,W) float32");
    }
    hid_t space = H5Dget_space(ds);
    hsize_t dims[4] = {0, 0, 0, 0};
    const int rank = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, nullptr);
    if (rank != 4 || dims[1] != 3) {
      H5Sclose(space), H5Dclose(ds), H5Fclose(file);
      throw UserError("'images' must be (N,3,H,W)", o.input_h5, "store normalised NCHW float32 inputs");
    }
    auto all = torch::empty({(int64_t)dims[0], 3, (int64_t)dims[2], (int64_t)dims[3]}, torch::kFloat);
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data_ptr());
    H5Sclose(space), H5Dclose(ds), H5Fclose(file);
    for (int64_t i = 0; i < all.size(0); ++i) inputs.emplace_back("input_" + std::to_string(i), all.narrow(0, i, 1));
  }
  hid_t logits_file = -1;
  if (o.save_logits)
    logits_file = H5Fcreate((fs::path(o.out_dir) / "logits.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  torch::NoGradGuard ng;
  for (const auto& [name, x] : inputs) {
    auto logits = net->predict(x).contiguous();
    auto pred = logits.argmax(1)[0].to(torch::kCPU, torch::kLong).contiguous();
    const data::Image mask =
        colourise(pred.data_ptr<int64_t>(), static_cast<int>(pred.size(0)), static_cast<int>(pred.size(1)));
    data::write_png((fs::path(o.out_dir) / (name + ".png")).string(), mask);
    if (logits_file >= 0) {
      hsize_t dims[4];
      for (int d = 0; d < 4; ++d) dims[d] = static_cast<hsize_t>(logits.size(d));
      hid_t space = H5Screate_simple(4, dims, nullptr);
      hid_t ds = H5Dcreate2(logits_file, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, logits.data_ptr());
      H5Dclose(ds), H5Sclose(space);
    }
  }
  if (logits_file >= 0) H5Fclose(logits_file);
  return static_cast<int>(inputs.size());
}

}  // namespace uda::worker
