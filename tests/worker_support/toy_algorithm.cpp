#include "tests/worker_support/toy_algorithm.h"

#include "algos/algorithm.h"
#include "algos/seg/seg_loss.h"
#include "core/config.h"
#include "models/conv_module.h"
#include "worker/train_context.h"

#include <torch/torch.h>

namespace uda::test {

namespace {

at::Tensor slot_images(int64_t slot, int size) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(1000 + slot);
  return torch::randn({3, size, size}, g, torch::TensorOptions());
}

at::Tensor slot_labels(int64_t slot, int size, int classes) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(5000 + slot);
  return torch::randint(classes, {size, size}, g, torch::TensorOptions().dtype(torch::kLong));
}

// conv3x3 -> ReLU -> conv1x1; with `batch_norm`, the first conv is an mmcv
// ConvModule (conv -> BatchNorm -> ReLU) as the decode heads use.
struct ToyNet : torch::nn::Module {
  explicit ToyNet(bool batch_norm) {
    if (batch_norm) {
      models::ConvModuleOptions o;
      o.in = 3, o.out = 8, o.kernel = 3, o.padding = 1;
      cbn = register_module("cbn", models::ConvModule(o));
    } else {
      c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    }
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 4, 1)));
  }
  at::Tensor forward(const at::Tensor& x) { return c2(cbn ? cbn(x) : torch::relu(c1(x))); }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
  models::ConvModule cbn{nullptr};
};

class ToyAlgorithm : public algos::Algorithm {
 public:
  explicit ToyAlgorithm(bool nan, bool batch_norm = false, bool pictures = false)
      : nan_(nan), batch_norm_(batch_norm), pictures_(pictures) {}
  void setup(worker::TrainContext& ctx) override {
    net_ = std::make_shared<ToyNet>(batch_norm_);
    ctx.track_module("model", net_);
    worker::NamedParameters np;
    std::vector<at::Tensor> ps;
    for (auto& p : net_->named_parameters()) np.emplace_back(p.key(), p.value()), ps.push_back(p.value());
    opt_ = &ctx.add_optimizer("model", ctx.config().json()["optimizer"], np);
    reducer_ = &ctx.add_reducer("model", ps);
  }
  algos::Scalars train_step(const algos::Batch& b, worker::TrainContext& ctx) override {
    opt_->zero_grad();
    net_->train();
    auto loss = algos::seg_cross_entropy(net_->forward(b.source.images), b.source.labels);
    if (nan_ && ctx.iter() == 2) loss = loss * std::numeric_limits<float>::quiet_NaN();
    if (!ctx.check_loss("loss_seg", loss)) return {{"loss_seg", loss.item<double>()}};
    reducer_->arm();
    loss.backward();
    reducer_->finalize();
    opt_->step();
    return {{"loss_seg", loss.item<double>()}};
  }
  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }
  at::Tensor pseudo_label(const at::Tensor& images) override {
    return pictures_ ? predict(images).argmax(1) : at::Tensor();
  }
  // Four 8x8 images of grey levels 0, 1/3, 2/3, 1.
  std::vector<std::pair<std::string, at::Tensor>> report_images() override {
    if (!pictures_) return {};
    return {{"samples", torch::linspace(0, 1, 4).view({4, 1, 1, 1}).expand({4, 3, 8, 8}).contiguous()}};
  }

 private:
  bool nan_, batch_norm_, pictures_;
  std::shared_ptr<ToyNet> net_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

}  // namespace

algos::Batch SyntheticSource::next(int64_t iter) {
  if (iter != next_) throw std::logic_error("SyntheticSource: iterations must be consecutive");
  ++next_;
  std::vector<at::Tensor> imgs, labels;
  std::vector<int64_t> slots;
  for (int j = 0; j < batch_; ++j) {
    const int64_t slot = iter * world_ * batch_ + int64_t{rank_} * batch_ + j;
    imgs.push_back(slot_images(slot, size_));
    labels.push_back(slot_labels(slot, size_, classes_));
    slots.push_back(slot);
  }
  algos::Batch b;
  b.source.images = torch::stack(imgs);
  b.source.labels = torch::stack(labels);
  b.source.indices = torch::tensor(slots, torch::kLong);
  return b;
}

bool SyntheticEval::next(at::Tensor& images, at::Tensor& labels) {
  if (pos_ >= 6) return false;
  images = slot_images(100000 + pos_, 8).unsqueeze(0);
  labels = slot_labels(100000 + pos_, 8, 4).unsqueeze(0);
  pos_ += world_;
  return true;
}

void register_toy_algorithms() {
  static const algos::AlgorithmRegistrar a("test_toy", [] { return std::make_unique<ToyAlgorithm>(false); });
  static const algos::AlgorithmRegistrar b("test_nan", [] { return std::make_unique<ToyAlgorithm>(true); });
  static const algos::AlgorithmRegistrar c("test_toy_bn",
                                           [] { return std::make_unique<ToyAlgorithm>(false, true); });
  static const algos::AlgorithmRegistrar d("test_toy_pictures",
                                           [] { return std::make_unique<ToyAlgorithm>(false, false, true); });
}

}  // namespace uda::test
