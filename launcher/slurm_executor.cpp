#include "launcher/slurm_executor.h"

#include "core/error.h"
#include "core/fs.h"
#include "launcher/run_dir.h"
#include "launcher/sbatch_script.h"
#include "launcher/subprocess.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

const char* kActiveStates[] = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING",
                               "COMPLETING", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT",
                               "RESV_DEL_HOLD", "SPECIAL_EXIT", "PREEMPTED"};

bool is_active(const std::string& state) {
  for (const char* s : kActiveStates)
    if (state == s) return true;
  return false;
}

int ntasks_per_node(const SlurmOptions& o, int nproc) {
  if (o.ntasks_per_node > 0) {
    if (o.ntasks_per_node * o.nodes != nproc)
      throw UserError("--ntasks-per-node " + std::to_string(o.ntasks_per_node) + " x --nodes " +
                          std::to_string(o.nodes) + " is not --nproc " + std::to_string(nproc),
                      "uda train --executor slurm", "make nodes x ntasks-per-node equal nproc");
    return o.ntasks_per_node;
  }
  if (nproc % o.nodes != 0)
    throw UserError("--nproc " + std::to_string(nproc) + " is not a multiple of --nodes " + std::to_string(o.nodes),
                    "uda train --executor slurm", "choose nproc = nodes x ranks per node");
  return nproc / o.nodes;
}

// Splits the worker command `uda train` builds into what the script needs:
// the binary, global options (--log-level) before the `worker` subcommand,
// the worker's other options, and the requested resume mode (--run-dir and
// --resume are appended by the script).
std::vector<std::string> worker_prefix_of(const std::vector<std::string>& argv, std::string* resume) {
  std::vector<std::string> global, rest;
  for (size_t i = 1; i < argv.size(); ++i) {
    const bool has_value = i + 1 < argv.size();
    if (argv[i] == "worker") continue;
    if (argv[i] == "--log-level" && has_value) {
      global = {argv[i], argv[i + 1]};
    } else if (argv[i] == "--resume" && has_value) {
      *resume = argv[i + 1];
    } else if (argv[i] == "--run-dir" && has_value) {
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    ++i;
  }
  std::vector<std::string> out{argv.empty() ? std::string("uda") : argv[0]};
  out.insert(out.end(), global.begin(), global.end());
  out.push_back("worker");
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

SbatchSpec base_spec(const SlurmOptions& o, int nproc) {
  SbatchSpec s;
  s.nodes = o.nodes;
  s.ntasks_per_node = ntasks_per_node(o, nproc);
  s.gpus_per_node = o.gpus_per_node;
  s.cpus_per_task = o.cpus_per_task;
  s.time = o.time;
  s.partition = o.partition;
  s.account = o.account;
  s.signal_lead_s = o.signal_lead_s;
  s.max_requeues = o.max_requeues;
  return s;
}

std::string sbatch(const std::string& script, const std::string& where) {
  Captured c;
  try {
    c = run_capture({"sbatch", "--parsable", script});
  } catch (const std::exception& e) {
    throw UserError(std::string("could not run sbatch: ") + e.what(), where, "install SLURM's client commands");
  }
  if (c.exit_code == 127)
    throw UserError("sbatch not found", where, "run on a SLURM login node, or use --executor local");
  if (c.exit_code != 0) {
    std::string err = c.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    for (auto& ch : err)
      if (ch == '\n') ch = ' ';
    throw UserError("sbatch refused the job: " + err, script, "check the SLURM options (--partition, --time, ...)");
  }
  std::string id = c.out.substr(0, c.out.find_first_of(";\n"));
  if (id.empty()) throw UserError("sbatch printed no job id", script, "check the SLURM installation");
  return id;
}

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

}  // namespace

void add_slurm_options(CLI::App& sub, SlurmOptions& o) {
  sub.add_option("--nodes", o.nodes, "SLURM: nodes")->group("SLURM");
  sub.add_option("--ntasks-per-node", o.ntasks_per_node, "SLURM: ranks per node (default nproc/nodes)")->group("SLURM");
  sub.add_option("--gpus-per-node", o.gpus_per_node, "SLURM: GPUs per node")->group("SLURM");
  sub.add_option("--cpus-per-task", o.cpus_per_task, "SLURM: CPUs per rank")->group("SLURM");
  sub.add_option("--time", o.time, "SLURM: time limit")->group("SLURM");
  sub.add_option("--partition", o.partition, "SLURM: partition")->group("SLURM");
  sub.add_option("--account", o.account, "SLURM: account")->group("SLURM");
  sub.add_option("--signal-lead", o.signal_lead_s, "SLURM: seconds before the time limit to send USR2 (checkpoint)")
      ->group("SLURM");
  sub.add_option("--max-requeues", o.max_requeues, "SLURM: requeues after preemption before giving up")->group("SLURM");
  sub.add_flag("--wait", o.wait, "SLURM: wait until the job ends and exit with its status")->group("SLURM");
}

int submit_slurm(const SlurmOptions& o, int nproc, const std::string& run_dir,
                 const std::vector<std::string>& worker_argv) {
  const std::string dir = absolute(run_dir);
  SbatchSpec s = base_spec(o, nproc);
  s.job_name = "uda-" + fs::path(dir).filename().string();
  if (s.job_name.size() > 64) s.job_name.resize(64);
  for (auto& c : s.job_name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-')) c = '_';
  s.output = dir + "/slurm-%j.out";
  s.run_dir = dir;
  s.worker_argv = worker_prefix_of(worker_argv, &s.resume);
  const std::string script = dir + "/job.sbatch";
  fs_util::write_file_atomic(script, render_sbatch(s));
  // The job writes DONE again when it ends; a stale one would make the run
  // look finished while it is still queued.
  fs::remove(dir + "/DONE");
  const std::string id = sbatch(script, dir);
  fs_util::write_file_atomic(dir + "/slurm_job_id", id + "\n");
  std::cout << id << std::endl;
  std::cerr << "uda: submitted SLURM job " << id << " (" << nproc << " rank(s)), run directory " << dir << "\n";
  if (!o.wait) return 0;
  wait_for_slurm_job(id);
  return run_dir_exit_code(dir, o.report_outcome);
}

std::string submit_slurm_array(const SlurmOptions& o, int nproc, const std::string& sweep_dir,
                               const std::vector<std::string>& run_dirs, int max_parallel,
                               const std::vector<std::string>& worker_prefix) {
  if (run_dirs.empty()) throw std::logic_error("submit_slurm_array: no runs");
  const std::string dir = absolute(sweep_dir) + "/slurm";
  fs::create_directories(dir);
  const auto stamp = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  std::string list;
  for (const auto& r : run_dirs) {
    const std::string a = absolute(r);
    if (a.find('\n') != std::string::npos)
      throw UserError("run directory holds a newline", a, "use a --work-dir without newlines");
    list += a + "\n";
  }
  const std::string list_file = dir + "/runs-" + stamp + ".txt";
  fs_util::write_file_atomic(list_file, list);
  SbatchSpec s = base_spec(o, nproc);
  s.job_name = "uda-sweep";
  s.output = dir + "/%A_%a.out";
  s.run_list = list_file;
  s.array = "0-" + std::to_string(run_dirs.size() - 1) +
            (max_parallel > 0 ? "%" + std::to_string(max_parallel) : std::string());
  s.worker_argv = worker_prefix;
  const std::string script = dir + "/array-" + stamp + ".sbatch";
  fs_util::write_file_atomic(script, render_sbatch(s));
  const std::string id = sbatch(script, sweep_dir);
  for (size_t i = 0; i < run_dirs.size(); ++i)
    fs_util::write_file_atomic(absolute(run_dirs[i]) + "/slurm_job_id", id + "_" + std::to_string(i) + "\n");
  return id;
}

std::map<std::string, std::string> slurm_job_states(const std::vector<std::string>& job_refs) {
  std::map<std::string, std::string> out;
  if (job_refs.empty()) return out;
  // squeue lists pending and running jobs (array tasks expanded with -r);
  // scontrol also knows jobs that ended less than MinJobAge ago.
  for (const auto& ref : job_refs) {
    Captured c;
    try {
      c = run_capture({"scontrol", "show", "job", "-o", ref});
    } catch (...) {
      return out;
    }
    if (c.exit_code == 127) return out;
    if (c.exit_code != 0) continue;
    std::istringstream lines(c.out);
    for (std::string line; std::getline(lines, line);) {
      auto field = [&](const std::string& key) {
        const auto p = line.find(key + "=");
        if (p == std::string::npos) return std::string();
        const auto b = p + key.size() + 1;
        return line.substr(b, line.find(' ', b) - b);
      };
      std::string id = field("JobId");
      const std::string array_job = field("ArrayJobId"), task = field("ArrayTaskId");
      if (!array_job.empty() && !task.empty() && task.find_first_not_of("0123456789") == std::string::npos)
        id = array_job + "_" + task;
      if (id == ref || job_refs.size() == 1) out[ref] = field("JobState");
      if (id == ref) break;
    }
  }
  return out;
}

void wait_for_slurm_job(const std::string& job_ref, double poll_s) {
  int unknown = 0;
  while (true) {
    const auto states = slurm_job_states({job_ref});
    const auto it = states.find(job_ref);
    if (it == states.end()) {
      if (++unknown > 5) return;  // forgotten (MinJobAge) or no SLURM
    } else {
      unknown = 0;
      if (!is_active(it->second)) return;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_s));
  }
}

int run_dir_exit_code(const std::string& run_dir, bool say) {
  auto outcome = [say](int code, const std::string& text) {
    if (say) std::cerr << text << "\n";
    return code;
  };
  if (fs::exists(fs::path(run_dir) / "DONE")) return outcome(kExitOk, "uda: training finished; results in " + run_dir);
  if (const auto failure = failed_rank(run_dir))
    return outcome(failure->user_error ? kExitUserError : kExitInternalError, failure->text());
  bool preempted = false;
  const fs::path status = fs::path(run_dir) / "status";
  if (fs::exists(status))
    for (const auto& e : fs::directory_iterator(status)) {
      std::ifstream in(e.path());
      nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
      if (!j.is_discarded() && j.value("exit_code", 0) == kExitRequeue) preempted = true;
    }
  if (preempted)
    return outcome(kExitRequeue, "uda: the run checkpointed on preemption and was not requeued; resubmit to continue (" +
                                     run_dir + ")");
  return outcome(kExitInternalError, "uda: error: the SLURM job ended without a result (" + run_dir +
                                         "): read its slurm-*.out and logs/ for the cause");
}

}  // namespace uda::cli
