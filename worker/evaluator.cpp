#include "worker/evaluator.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace uda::worker {

at::Tensor predicted_classes(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 4) return logits.argmax(1).to(torch::kCPU);
  auto l = logits;
  if (l.size(2) != labels.size(-2) || l.size(3) != labels.size(-1))
    l = torch::nn::functional::interpolate(l.to(torch::kFloat),
                                           torch::nn::functional::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{labels.size(-2), labels.size(-1)})
                                               .mode(torch::kBilinear)
                                               .align_corners(false));
  return l.argmax(1).to(torch::kCPU);
}

void accumulate(ConfusionMatrix& cm, const at::Tensor& logits, const at::Tensor& labels) {
  const int n = cm.num_classes();
  const at::Tensor pred = predicted_classes(logits, labels).reshape(-1);
  at::Tensor gt = labels.to(torch::kCPU, torch::kLong).reshape(-1);
  auto valid = gt.ne(255);
  auto g = gt.masked_select(valid);
  auto p = pred.masked_select(valid);
  if (g.numel() > 0) {
    const int64_t mx = g.max().item<int64_t>(), mn = g.min().item<int64_t>();
    if (mn < 0 || mx >= n)
      throw UserError("label " + std::to_string(mx >= n ? mx : mn) + " out of range for " + std::to_string(n) +
                          " classes",
                      "evaluation data", "check model.num_classes against the dataset's classes");
  }
  auto bins = torch::bincount(g * n + p, {}, int64_t{n} * n);
  auto acc = bins.accessor<int64_t, 1>();
  auto& counts = cm.counts();
  for (int64_t i = 0; i < int64_t{n} * n; ++i) counts[i] += acc[i];
}

namespace {
// The counts of every rank summed into `cm`.
void all_reduce_counts(ConfusionMatrix& cm, comm::Communicator& comm) {
  auto counts = torch::from_blob(cm.counts().data(), {static_cast<int64_t>(cm.counts().size())}, torch::kLong).clone();
  comm.all_reduce(counts, comm::ReduceOp::Sum);
  std::copy(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel(), cm.counts().begin());
}
}  // namespace

ConfusionMatrix evaluate(const PredictFn& predict, EvalSource& data, comm::Communicator& comm, EvalObserver* observer,
                         const std::string& set, const AttackFn* attack, ConfusionMatrix* attacked) {
  ConfusionMatrix cm(data.num_classes());
  if (attack) *attacked = ConfusionMatrix(data.num_classes());
  data.reset();
  at::Tensor images, labels;
  while (data.next(images, labels)) {
    torch::NoGradGuard no_grad;
    const at::Tensor logits = predict(images);
    accumulate(cm, logits, labels);
    if (observer) observer->batch(set, images, labels, logits);
    if (attack) {
      at::Tensor adv;
      {
        torch::AutoGradMode grad_on(true);  // the attack differentiates the network in its input
        adv = (*attack)(images, labels);
      }
      accumulate(*attacked, predict(adv), labels);
    }
  }
  all_reduce_counts(cm, comm);
  if (attack) all_reduce_counts(*attacked, comm);
  if (observer) observer->matrix(set, cm, data.class_names());
  return cm;
}

nlohmann::json evaluate_suite(const PredictFn& predict, EvalSuite& suite, comm::Communicator& comm,
                              EvalObserver* observer, const std::function<void(const std::string&)>& before_set,
                              const AttackFn* attack) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json robust = nlohmann::json::object();  // the attacked sets' metrics under the clean names
  auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  for (auto& set : suite.sets()) {
    if (before_set) before_set(set.domain);
    ConfusionMatrix attacked(1);
    auto cm = evaluate(predict, *set.source, comm, observer, set.name, attack, &attacked);
    if (set.name.empty()) {
      j.update(cm.to_json(set.source->class_names()));
      if (attack) {
        j["pgd_accuracy"] = number(attacked.accuracy());
        j["pgd_class_accuracy"] = number(attacked.mean_class_accuracy());
      }
    } else {
      j[set.name + "_acc"] = number(cm.accuracy());
      j[set.name + "_class_acc"] = number(cm.mean_class_accuracy());
      if (attack) {
        j[set.name + "_pgd_acc"] = robust[set.name + "_acc"] = number(attacked.accuracy());
        j[set.name + "_pgd_class_acc"] = number(attacked.mean_class_accuracy());
      }
    }
  }
  suite.summarize(j);
  if (attack && !robust.empty()) {
    // The suite's summaries (DG: training-domain validation, test domains)
    // of the attacked accuracies, prefixed.
    auto summary = robust;
    suite.summarize(summary);
    for (const auto& [key, value] : summary.items())
      if (!robust.contains(key) && value.is_number()) j["pgd_" + key] = value;
  }
  return j;
}

}  // namespace uda::worker
