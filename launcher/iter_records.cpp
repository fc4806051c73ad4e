#include "launcher/iter_records.h"

#include "core/error.h"
#include "core/fs.h"

#include <cmath>
#include <filesystem>
#include <limits>

namespace uda::cli {

IterRecords read_iter_records(const std::string& path, std::vector<std::string>& notes) {
  const std::string name = std::filesystem::path(path).filename().string();
  const std::string fix = "repair or delete that line (each line of " + name + " is one JSON object with \"iter\")";
  const std::string text = fs_util::read_file(path);
  IterRecords out;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const std::string n = std::to_string(line_no);
    if (j.is_discarded() && !terminated) {  // the trainer may be writing it right now
      notes.push_back(name + ": the last line (" + n + ") is incomplete and was left out");
      break;
    }
    if (j.is_discarded()) throw UserError("malformed JSON on line " + n + " of " + name, path + ":" + n, fix);
    if (!j.is_object() || !j.contains("iter") || !j["iter"].is_number())
      throw UserError("line " + n + " of " + name + " is not a JSON object with a numeric \"iter\"", path + ":" + n,
                      fix);
    const auto iter = static_cast<int64_t>(std::llround(j["iter"].get<double>()));
    if (!out.by_iter.insert_or_assign(iter, std::move(j)).second) ++out.replaced;
  }
  if (out.replaced)
    notes.push_back(name + ": " + std::to_string(out.replaced) +
                    " record(s) were logged again for the same iteration (a resumed run); the latest are shown");
  return out;
}

double number_or_nan(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object()) return std::numeric_limits<double>::quiet_NaN();
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace uda::cli
