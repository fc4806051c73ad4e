#include "worker/data_streams.h"

#include "core/config.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/pipeline/loader_config.h"

#include <torch/torch.h>

#include <map>

namespace uda::worker {

namespace {

using data::pipeline::HostBatch;
using data::pipeline::Loader;

std::string path_of(const config::Config& cfg, const std::string& stream) {
  const std::string key = "data." + stream + ".path";
  return cfg.has(key) ? cfg.get<std::string>(key) : "";
}

std::shared_ptr<data::Dataset> open_checked(const config::Config& cfg, const std::string& stream,
                                            const std::string& path) {
  auto ds = data::Dataset::open(path);
  const int64_t classes = cfg.get<int64_t>("model.num_classes");
  if (static_cast<int64_t>(ds->num_classes()) != classes)
    throw UserError("dataset has " + std::to_string(ds->num_classes()) + " classes but model.num_classes is " +
                        std::to_string(classes),
                    path + " (data." + stream + ".path)",
                    "set model.num_classes=" + std::to_string(ds->num_classes()) + " or use a matching dataset");
  return ds;
}

// Wraps a host batch without copying; the tensors keep the buffers alive.
algos::DomainBatch to_device(const HostBatch& b, int rank, int world, c10::Device device, bool labelled) {
  algos::DomainBatch out;
  auto keep_images = b.images;
  out.images = torch::from_blob(
      b.images.get(), {b.size, b.channels, b.height, b.width}, [keep_images](void*) {}, torch::kFloat);
  // Class ids when the set has them (classification), else the label maps.
  if (labelled && !b.class_labels.empty() && b.class_labels[0] >= 0) {
    out.labels = torch::tensor(b.class_labels, torch::kLong);
  } else if (labelled && b.label_height > 0) {
    auto keep_labels = b.labels;
    out.labels = torch::from_blob(
                     b.labels.get(), {b.size, b.label_height, b.label_width}, [keep_labels](void*) {}, torch::kUInt8);
    if (device == torch::kCPU) out.labels = out.labels.to(torch::kLong);
  }
  // Global slot of each sample (rank r's j-th sample is slot j*W + r).
  std::vector<int64_t> slots(b.size);
  const int64_t global = int64_t{world} * b.size;
  for (int j = 0; j < b.size; ++j) slots[j] = b.step * global + int64_t{j} * world + rank;
  out.indices = torch::tensor(slots, torch::kLong);
  if (device != torch::kCPU) {
    // From pinned buffers (pinned_allocator) these copies are asynchronous;
    // labels travel as uint8 and widen on the device.
    out.images = out.images.to(device, /*non_blocking=*/true);
    if (out.labels.defined()) out.labels = out.labels.to(device, true).to(torch::kLong);
  } else {
    out.images = out.images.clone();  // own the memory: the loader reuses nothing, but be explicit
  }
  return out;
}

// What an algorithm may know of a stream's dataset (worker/train_data_info.h):
// the stored class statistics summed over `pool` (the samples the stream
// draws from), without reading a sample.
StreamInfo stream_info(const config::Config& cfg, const std::string& stream, const data::Dataset& ds,
                       const std::vector<int64_t>* pool) {
  StreamInfo info;
  info.path = ds.dir();
  info.key = "data." + stream + ".path";
  info.task = data::task_name(ds.task());
  info.class_names = ds.class_names();
  info.sampler = cfg.get<std::string>("data." + stream + ".sampler");
  const auto& stats = ds.class_stats();
  info.class_counts.assign(ds.num_classes(), 0);
  auto add = [&](size_t i) {
    const auto& row = stats.per_image[i];
    for (size_t c = 0; c < row.size() && c < info.class_counts.size(); ++c) info.class_counts[c] += row[c];
  };
  if (pool) {
    for (int64_t i : *pool) add(static_cast<size_t>(i));
  } else {
    for (size_t i = 0; i < stats.per_image.size(); ++i) add(i);
  }
  return info;
}

// Batch buffers for CUDA ranks: page-locked host memory from torch's caching
// host allocator, so that the host-to-device copies run asynchronously.
data::pipeline::Allocator pinned_allocator() {
  return [](size_t bytes) -> std::shared_ptr<void> {
    auto t = at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(torch::kUInt8).pinned_memory(true));
    return std::shared_ptr<void>(t.data_ptr(), [t](void*) mutable { t.reset(); });
  };
}

class TrainStreams : public BatchSource {
 public:
  TrainStreams(const config::Config& cfg, int rank, int world, c10::Device device)
      : rank_(rank), world_(world), device_(device) {
    auto src = open_checked(cfg, "source", cfg.require("data.source.path").get<std::string>());
    source_stats_ = src;
    const data::pipeline::Allocator alloc = device.is_cuda() ? pinned_allocator() : data::pipeline::Allocator{};
    if (cfg.get<bool>("data.source.per_domain_batches")) {
      const auto split = data::pipeline::split_domains(cfg, src->class_stats(), cfg.get<std::string>("data.source.path"));
      domains_ = data::pipeline::make_domain_loaders(cfg, src, src->class_stats(), split, rank, world, alloc);
      std::vector<int64_t> pool;
      for (int d : split.training_domains()) {
        pool.insert(pool.end(), split.in[d].begin(), split.in[d].end());
        info_.training_domains.push_back(split.names[d]);
      }
      info_.source = stream_info(cfg, "source", *src, &pool);
    } else {
      source_ = data::pipeline::make_loader(cfg, "source", src, &src->class_stats(), rank, world, alloc);
      info_.source = stream_info(cfg, "source", *src, nullptr);
    }
    const std::string tpath = path_of(cfg, "target");
    if (!tpath.empty()) {
      auto tgt = open_checked(cfg, "target", tpath);
      if (tgt->class_names() != src->class_names())
        throw UserError("source and target datasets have different class lists", tpath,
                        "convert both with the same label set");
      target_ = data::pipeline::make_loader(cfg, "target", tgt, &tgt->class_stats(), rank, world, alloc);
      info_.target = stream_info(cfg, "target", *tgt, nullptr);
    }
  }

  TrainDataInfo info() const override { return info_; }

  algos::Batch next(int64_t iter) override {
    algos::Batch b;
    if (source_) b.source = take(*source_, true, iter);
    for (auto& d : domains_) b.domains.push_back(take(*d, true, iter));
    // The target is unlabelled in UDA: its labels are never handed over.
    if (target_) b.target = take(*target_, false, iter);
    return b;
  }

  nlohmann::json state() const override {
    nlohmann::json j;
    if (source_) j["source"] = source_->state().to_json();
    if (target_) j["target"] = target_->state().to_json();
    for (size_t i = 0; i < domains_.size(); ++i) j["domains"].push_back(domains_[i]->state().to_json());
    return j;
  }

  void restore(const nlohmann::json& j) override {
    using data::pipeline::SamplerState;
    if (source_ && j.contains("source")) source_->restore(SamplerState::from_json(j["source"]));
    if (target_ && j.contains("target")) target_->restore(SamplerState::from_json(j["target"]));
    for (size_t i = 0; i < domains_.size() && j.contains("domains"); ++i)
      domains_[i]->restore(SamplerState::from_json(j["domains"][i]));
  }

 private:
  algos::DomainBatch take(Loader& l, bool labelled, int64_t iter) {
    auto hb = l.next();
    if (!hb) throw std::logic_error("training loader '" + l.options().name + "' ended");
    if (hb->step != iter)
      throw std::logic_error("loader '" + l.options().name + "' is at step " + std::to_string(hb->step) +
                             ", trainer at " + std::to_string(iter));
    auto out = to_device(*hb, rank_, world_, device_, labelled);
    // An asynchronous copy reads the host buffer after to_device returns:
    // keep each loader's previous batch alive for one more step. By the next
    // take() the copies have completed, because every training step waits
    // for its results on the device stream (loss.item()).
    if (device_.is_cuda()) in_flight_[&l] = std::move(*hb);
    return out;
  }
  std::map<const Loader*, HostBatch> in_flight_;

  int rank_, world_;
  c10::Device device_;
  std::shared_ptr<data::Dataset> source_stats_;
  TrainDataInfo info_;
  std::unique_ptr<Loader> source_, target_;
  std::vector<std::unique_ptr<Loader>> domains_;
};

class ValStream : public EvalSource {
 public:
  // One pass of `loader` over `ds` (the whole val set, or a domain's split).
  ValStream(std::shared_ptr<data::Dataset> ds, std::unique_ptr<Loader> loader, c10::Device device)
      : device_(device), ds_(std::move(ds)), loader_(std::move(loader)) {}
  void reset() override { loader_->restore(data::pipeline::SamplerState{}); }
  bool next(at::Tensor& images, at::Tensor& labels) override {
    // Classification batches whose images all have the batch's size go
    // whole; otherwise one sample at a time at its own size (validation
    // images may differ in size, and labels are full resolution).
    while (pending_.empty()) {
      auto hb = loader_->next();
      if (!hb) return false;
      if (dense_classification(*hb)) {
        pending_.push_back({hb_images(*hb).clone().to(device_), torch::tensor(hb->class_labels, torch::kLong)});
        break;
      }
      for (int j = 0; j < hb->size; ++j) pending_.push_back(split(*hb, j));
    }
    std::tie(images, labels) = pending_.front();
    pending_.erase(pending_.begin());
    return true;
  }
  int num_classes() const override { return static_cast<int>(ds_->num_classes()); }
  std::vector<std::string> class_names() const override { return ds_->class_names(); }

 private:
  static bool dense_classification(const HostBatch& b) {
    if (b.class_labels.empty() || b.class_labels[0] < 0) return false;
    for (int j = 0; j < b.size; ++j)
      if (b.image_sizes[j][0] != b.height || b.image_sizes[j][1] != b.width) return false;
    return true;
  }
  static at::Tensor hb_images(const HostBatch& b) {
    return torch::from_blob(const_cast<float*>(b.image(0)), {b.size, b.channels, b.height, b.width}, torch::kFloat);
  }
  std::pair<at::Tensor, at::Tensor> split(const HostBatch& b, int j) {
    auto img = torch::from_blob(const_cast<float*>(b.image(j)), {1, b.channels, b.height, b.width}, torch::kFloat)
                   .narrow(2, 0, b.image_sizes[j][0])
                   .narrow(3, 0, b.image_sizes[j][1])
                   .clone();
    at::Tensor lab;
    if (b.label_height > 0 && (b.class_labels.empty() || b.class_labels[j] < 0))
      lab = torch::from_blob(const_cast<uint8_t*>(b.label(j)), {1, b.label_height, b.label_width}, torch::kUInt8)
                .narrow(1, 0, b.label_sizes[j][0])
                .narrow(2, 0, b.label_sizes[j][1])
                .to(torch::kLong);
    else
      lab = torch::tensor({b.class_labels[j]}, torch::kLong);
    return {img.to(device_), lab};
  }
  c10::Device device_;
  std::shared_ptr<data::Dataset> ds_;
  std::unique_ptr<Loader> loader_;
  std::vector<std::pair<at::Tensor, at::Tensor>> pending_;
};

}  // namespace

std::unique_ptr<BatchSource> make_train_streams(const config::Config& cfg, int rank, int world, c10::Device device) {
  return std::make_unique<TrainStreams>(cfg, rank, world, device);
}

std::unique_ptr<EvalSource> make_eval_stream_for(const config::Config& cfg, const std::string& path, int rank,
                                                 int world, c10::Device device) {
  auto ds = open_checked(cfg, "val", path);
  auto loader = data::pipeline::make_loader(cfg, "val", ds, &ds->class_stats(), rank, world);
  return std::make_unique<ValStream>(ds, std::move(loader), device);
}

namespace {

// Every domain's in and out split, DomainBed's record keys and summaries.
class DomainEvalSuite : public EvalSuite {
 public:
  DomainEvalSuite(std::vector<Set> sets, data::pipeline::DomainSplit split)
      : EvalSuite(std::move(sets)), split_(std::move(split)) {}
  void summarize(nlohmann::json& record) const override {
    // DomainBed model_selection.py: training-domain validation is the mean
    // over training domains of their out-split accuracy (:75-100); the test
    // accuracy is the test domain's in split.
    auto mean_of = [&](const std::vector<int>& domains, const char* split) -> nlohmann::json {
      double sum = 0;
      for (int d : domains) {
        const auto& v = record["env" + std::to_string(d) + "_" + split + "_acc"];
        if (!v.is_number()) return nullptr;
        sum += v.get<double>();
      }
      return domains.empty() ? nlohmann::json(nullptr) : nlohmann::json(sum / static_cast<double>(domains.size()));
    };
    record["train_domain_val_acc"] = mean_of(split_.training_domains(), "out");
    record["test_domain_acc"] = mean_of(split_.test_domains(), "in");
    record["domains"] = split_.names;
    record["test_domains"] = split_.test_domains();
  }

 private:
  data::pipeline::DomainSplit split_;
};

}  // namespace

std::unique_ptr<EvalSuite> make_eval_suite(const config::Config& cfg, int rank, int world, c10::Device device) {
  if (!cfg.get<bool>("data.source.per_domain_batches")) {
    const std::string path = path_of(cfg, "val");
    return path.empty() ? nullptr : single_set(make_eval_stream_for(cfg, path, rank, world, device));
  }
  const std::string path = cfg.require("data.source.path").get<std::string>();
  auto ds = open_checked(cfg, "val", path);
  auto split = data::pipeline::split_domains(cfg, ds->class_stats(), path);
  std::vector<EvalSuite::Set> sets;
  for (size_t d = 0; d < split.names.size(); ++d)
    for (const auto& [part, pool] : {std::pair{"in", &split.in[d]}, std::pair{"out", &split.out[d]}}) {
      const std::string name = "env" + std::to_string(d) + "_" + part;
      auto loader = data::pipeline::make_eval_loader(cfg, name, ds, *pool, rank, world);
      sets.push_back({name, std::make_unique<ValStream>(ds, std::move(loader), device), split.names[d]});
    }
  return std::make_unique<DomainEvalSuite>(std::move(sets), std::move(split));
}

}  // namespace uda::worker
