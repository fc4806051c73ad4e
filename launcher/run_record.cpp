#include "launcher/run_record.h"

#include "core/error.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = j;
  }
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

RunRecord read_run(const std::string& dir) {
  RunRecord r;
  r.dir = dir;
  flatten(read_json(fs::path(dir) / "config.json"), "", r.config);
  r.evals = read_jsonl((fs::path(dir) / "eval.jsonl").string());
  r.final_eval = read_json(fs::path(dir) / "final_eval.json");
  r.sweep = read_json(fs::path(dir) / "sweep_overrides.json");
  r.done = fs::exists(fs::path(dir) / "DONE");
  return r;
}

std::vector<RunRecord> read_runs(const std::string& dir) {
  if (!fs::is_directory(dir)) throw UserError("no such directory", dir, "give a sweep or run directory");
  std::vector<std::string> dirs;
  if (fs::exists(fs::path(dir) / "config.json")) {
    dirs.push_back(dir);
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "config.json")) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<RunRecord> out;
  for (const auto& d : dirs) out.push_back(read_run(d));
  return out;
}

}  // namespace uda::cli
