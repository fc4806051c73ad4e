// Learning-rate schedules, computed exactly as mmcv 1.3.7's LrUpdaterHook
// family does (iteration-based, by_epoch=False), which DAFormer uses:
// mmcv/runner/hooks/lr_updater.py. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace uda::config {
class Config;
}

namespace uda::worker {

struct LrScheduleOptions {
  std::string policy = "poly";  // poly | step | cosine | constant | inv
  double power = 1.0;           // poly, inv
  double min_lr = 0.0;          // poly, cosine (absolute)
  std::vector<int64_t> steps;   // step: iterations at which lr *= gamma
  double gamma = 0.1;           // step, inv
  std::string warmup = "none";  // none | linear | constant | exp
  int64_t warmup_iters = 0;
  double warmup_ratio = 0.1;
  int64_t max_iters = 1;
};

LrScheduleOptions lr_schedule_from_config(const config::Config& cfg);

class LrSchedule {
 public:
  explicit LrSchedule(LrScheduleOptions options);
  // The lr of a parameter group whose initial lr is `base_lr`, at the
  // 0-based iteration `iter` (mmcv's runner.iter in before_train_iter).
  double lr(double base_lr, int64_t iter) const;
  // The schedule without warm-up (mmcv's get_regular_lr).
  double regular_lr(double base_lr, int64_t iter) const;
  const LrScheduleOptions& options() const { return o_; }

 private:
  LrScheduleOptions o_;
};

}  // namespace uda::worker
