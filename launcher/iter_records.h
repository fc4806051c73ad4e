// The records of a run's metrics.jsonl or eval.jsonl by iteration, read
// strictly for `uda report`: malformed lines are errors, except a last line
// without its newline (the trainer may be writing it).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace uda::cli {

struct IterRecords {
  std::map<int64_t, nlohmann::json> by_iter;
  size_t replaced = 0;  // records logged again for an iteration (a resumed run); the latest wins
};

// UserError naming `path:<line>` for malformed JSON or a line that is not an
// object with a numeric "iter". A last line that does not parse and has no
// newline is left out, and so said in `notes`, as are replaced records.
IterRecords read_iter_records(const std::string& path, std::vector<std::string>& notes);

// The number at `key` of a JSON object, NaN when absent or not a number.
double number_or_nan(const nlohmann::json& obj, const std::string& key);

}  // namespace uda::cli
