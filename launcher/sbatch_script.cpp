#include "launcher/sbatch_script.h"

#include "core/error.h"
#include "launcher/shell_quote.h"

#include <map>
#include <stdexcept>

namespace uda::cli {

namespace {

// Paths go into #SBATCH lines, which sbatch splits on blanks and which no
// quoting protects, so they are held to a plain character set.
const char* kPathPattern = R"([A-Za-z0-9_./%+=,@:-]+)";
const char* kPathAllowed = "a path of letters, digits and _ . / % + = , @ : - (no blanks or shell characters)";

void check_int(const std::string& field, int v, int lo, int hi) {
  if (v < lo || v > hi)
    throw UserError("invalid value " + std::to_string(v) + " for a SLURM batch script", field,
                    "use an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// One pass over the template: inserted values are never scanned again, so a
// value that looks like a placeholder stays literal text.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find("}}", open);
    if (close == std::string::npos) break;
    const auto it = values.find(text.substr(open + 2, close - open - 2));
    if (it == values.end()) throw std::logic_error("sbatch template: unknown placeholder " + text.substr(open, close - open + 2));
    out.append(text, pos, open - pos);
    out += it->second;
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace

std::string render_sbatch(const SbatchSpec& s) {
  require_match("--job-name", s.job_name, R"([A-Za-z0-9_.+-]{1,64})", "letters, digits and _ . + - (at most 64)");
  check_int("--nodes", s.nodes, 1, 100000);
  check_int("--ntasks-per-node", s.ntasks_per_node, 1, 4096);
  check_int("--gpus-per-node", s.gpus_per_node, 0, 1024);
  check_int("--cpus-per-task", s.cpus_per_task, 1, 4096);
  check_int("--signal lead", s.signal_lead_s, 1, 65535);
  check_int("--max-requeues", s.max_requeues, 0, 1000);
  require_match("--time", s.time, R"((\d+-)?\d+(:\d+){0,2}|\d+-\d+(:\d+)?|UNLIMITED|INFINITE)",
                "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS");
  if (!s.partition.empty())
    require_match("--partition", s.partition, R"([A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*)",
                  "partition names of letters, digits and _ . - (comma separated)");
  if (!s.account.empty())
    require_match("--account", s.account, R"([A-Za-z0-9_.-]+)", "letters, digits and _ . -");
  require_match("--output", s.output, kPathPattern, kPathAllowed);
  if (s.run_dir.empty() == s.run_list.empty())
    throw std::logic_error("render_sbatch: exactly one of run_dir and run_list");
  if (!s.run_list.empty())
    require_match("--array", s.array, R"(\d+(-\d+)?(%\d+)?)", "FIRST-LAST%THROTTLE, e.g. 0-3%2");
  require_match("--resume", s.resume, R"(auto|never|[^\n]+)", "auto, never or a checkpoint directory");
  if (s.worker_argv.empty()) throw std::logic_error("render_sbatch: empty worker command");

  std::string optional;
  if (s.gpus_per_node > 0) optional += "#SBATCH --gpus-per-node=" + std::to_string(s.gpus_per_node) + "\n";
  if (!s.partition.empty()) optional += "#SBATCH --partition=" + s.partition + "\n";
  if (!s.account.empty()) optional += "#SBATCH --account=" + s.account + "\n";
  if (!s.run_list.empty()) optional += "#SBATCH --array=" + s.array + "\n";

  // Run directory, list file, worker words and resume are read by the shell
  // only: any byte string is safe once quoted.
  return substitute(sbatch_template(), {
                                           {"JOB_NAME", s.job_name},
                                           {"NODES", std::to_string(s.nodes)},
                                           {"NTASKS_PER_NODE", std::to_string(s.ntasks_per_node)},
                                           {"CPUS_PER_TASK", std::to_string(s.cpus_per_task)},
                                           {"TIME", s.time},
                                           {"OPTIONAL_SBATCH_LINES", optional},
                                           {"SIGNAL_LEAD_S", std::to_string(s.signal_lead_s)},
                                           {"OUTPUT", s.output},
                                           {"MAX_REQUEUES", std::to_string(s.max_requeues)},
                                           {"EXIT_REQUEUE", std::to_string(kExitRequeue)},
                                           {"RUN_DIR", shell_quote(s.run_dir)},
                                           {"RUN_LIST", shell_quote(s.run_list)},
                                           {"WORKER_ARGV", shell_join(s.worker_argv)},
                                           {"RESUME", shell_quote(s.resume)},
                                       });
}

}  // namespace uda::cli
