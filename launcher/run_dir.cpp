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

std::string failed_rank_report(const std::string& run_dir, int tail_lines) {
  const fs::path status = fs::path(run_dir) / "status";
  if (!fs::exists(status)) return "";
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
    if (code != 0 && code != 75) failed.push_back(j);
  }
  if (failed.empty()) return "";
  std::sort(failed.begin(), failed.end(), [](const auto& a, const auto& b) { return a["rank"] < b["rank"]; });
  const auto& f = failed.front();
  const int rank = f.value("rank", -1);
  // A user error is one line that names the key and the fix; the log tail
  // would only repeat it.
  const std::string message = f.value("message", std::string());
  if (f.value("exit_code", 0) == kExitUserError && message.rfind("uda: error: ", 0) == 0) return message;
  std::string out = "rank " + std::to_string(rank) + " failed (exit " + std::to_string(f.value("exit_code", 0)) +
                    "): " + f.value("message", std::string());
  std::ifstream log(fs::path(run_dir) / "logs" / ("rank-" + std::to_string(rank) + ".log"));
  std::deque<std::string> tail;
  for (std::string line; std::getline(log, line);) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > tail_lines) tail.pop_front();
  }
  if (!tail.empty()) {
    out += "\nlast lines of " + (fs::path(run_dir) / "logs" / ("rank-" + std::to_string(rank) + ".log")).string() + ":";
    for (const auto& l : tail) out += "\n  " + l;
  }
  return out;
}

}  // namespace uda::cli
