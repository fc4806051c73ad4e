#include "launcher/run_state.h"

#include "core/error.h"

#include <signal.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

std::string first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

nlohmann::json last_json_line(const fs::path& p) {
  std::ifstream in(p);
  nlohmann::json last;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) last = std::move(j);
  }
  return last;
}

bool slurm_active(const std::string& s) {
  return s == "PENDING" || s == "RUNNING" || s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED" ||
         s == "CONFIGURING" || s == "COMPLETING" || s == "SUSPENDED" || s == "RESIZING" || s == "SIGNALING";
}

}  // namespace

std::string recorded_job_id(const std::string& dir) { return first_line(fs::path(dir) / "slurm_job_id"); }

RunState read_run_state(const std::string& dir, const std::string& slurm_state) {
  RunState s;
  s.dir = dir;
  s.job_id = recorded_job_id(dir);
  s.slurm_state = slurm_state;
  const fs::path d(dir);
  if (auto m = last_json_line(d / "metrics.jsonl"); m.is_object()) s.iteration = m.value("iter", int64_t{0});
  if (auto e = last_json_line(d / "eval.jsonl"); e.is_object() && e.contains("miou") && e["miou"].is_number())
    s.last_metric = e["miou"].get<double>();

  bool preempted = false, any_status = false;
  std::string fail;
  if (fs::is_directory(d / "status"))
    for (const auto& e : fs::directory_iterator(d / "status")) {
      std::ifstream in(e.path());
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (j.is_discarded()) continue;
      any_status = true;
      s.iteration = std::max(s.iteration, j.value("iterations", int64_t{0}));
      const int code = j.value("exit_code", 0);
      if (code == kExitRequeue) preempted = true;
      if (code != 0 && code != kExitRequeue && fail.empty())
        fail = "rank " + std::to_string(j.value("rank", -1)) + ": " + j.value("message", std::string());
    }

  if (fs::exists(d / "DONE")) {
    s.state = "done";
  } else if (slurm_active(slurm_state)) {
    s.state = slurm_state == "PENDING" || slurm_state == "REQUEUED" || slurm_state == "REQUEUE_HOLD" ? "pending"
                                                                                                      : "running";
  } else if (!fail.empty()) {
    s.state = "failed";
    s.reason = fail;
  } else if (preempted) {
    s.state = "preempted";
  } else if (!slurm_state.empty()) {
    // SLURM says the job ended, yet no rank reported: it died before or
    // outside the workers (srun, node, time limit without checkpoint).
    s.state = "failed";
    s.reason = "SLURM job " + s.job_id + " ended " + slurm_state + " without a rank status; see " +
               (d / "slurm.out").string() + " or slurm-*.out";
  } else if (fs::exists(d / "local_pid")) {
    const int pid = std::atoi(first_line(d / "local_pid").c_str());
    if (pid > 0 && kill(pid, 0) == 0) {
      s.state = "running";
    } else {
      s.state = "failed";
      s.reason = "the launcher ended without a rank status; see " + (d / "launcher.log").string();
    }
  } else if (any_status || fs::exists(d / "metrics.jsonl")) {
    s.state = "running";
  } else {
    s.state = "pending";
  }
  return s;
}

nlohmann::json to_json(const RunState& s) {
  nlohmann::json j{{"dir", s.dir},      {"run", fs::path(s.dir).filename().string()},
                   {"state", s.state},  {"iteration", s.iteration},
                   {"job_id", s.job_id}, {"slurm_state", s.slurm_state}};
  j["miou"] = s.last_metric ? nlohmann::json(*s.last_metric) : nlohmann::json();
  if (!s.reason.empty()) j["reason"] = s.reason;
  return j;
}

}  // namespace uda::cli
