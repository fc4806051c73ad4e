#include "launcher/run_dir.h"

#include "core/config.h"
#include "core/error.h"

#include <nlohmann/json.hpp>

#include <deque>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace uda::cli {

std::string run_dir_for(const std::string& config_file, const config::Config& cfg, const std::string& work_dir) {
  if (!work_dir.empty()) return work_dir;
  return (fs::path("runs") / (fs::path(config_file).stem().string() + "-" + cfg.hash().substr(0, 8))).string();
}

std::string RankFailure::text() const { return kUserErrorPrefix + reason + log_tail; }

std::optional<RankFailure> failed_rank(const std::string& run_dir, int tail_lines) {
  const fs::path status = fs::path(run_dir) / "status";
  if (!fs::exists(status)) return std::nullopt;
  std::vector<nlohmann::json> failed;
  for (const auto& e : fs::directory_iterator(status)) {
    std::ifstream in(e.path());
    nlohmann::json j;
    try {
      in >> j;
    } catch (...) {
      continue;
    }
    const int code = j.value("exit_code", 0);
    if (code != kExitOk && code != kExitRequeue) failed.push_back(j);
  }
  if (failed.empty()) return std::nullopt;
  std::sort(failed.begin(), failed.end(), [](const auto& a, const auto& b) { return a["rank"] < b["rank"]; });
  const auto& f = failed.front();
  const int rank = f.value("rank", -1), code = f.value("exit_code", 0);
  const std::string message = f.value("message", std::string());
  RankFailure out;
  // The worker records a user error as its whole "uda: error: ..." line.
  const std::string prefix = kUserErrorPrefix;
  if (code == kExitUserError && message.rfind(prefix, 0) == 0) {
    out.user_error = true;
    out.reason = message.substr(prefix.size());
    return out;
  }
  out.reason = "rank " + std::to_string(rank) + " failed (exit " + std::to_string(code) + "): " + message;
  const fs::path log_path = fs::path(run_dir) / "logs" / ("rank-" + std::to_string(rank) + ".log");
  std::ifstream log(log_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(log, line);) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > tail_lines) tail.pop_front();
  }
  if (!tail.empty()) {
    out.log_tail = "\nlast lines of " + log_path.string() + ":";
    for (const auto& l : tail) out.log_tail += "\n  " + l;
  }
  return out;
}

}  // namespace uda::cli
