// `uda sweep SWEEP.json`: expands a sweep into runs named by the hash of
// their resolved configs, skips finished ones, estimates how long the rest
// take, and runs them K at a time locally (each one an `uda train`) or as
// one SLURM job array.
// `uda sweep status DIR`: a table of the runs' states.
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "launcher/commands.h"
#include "launcher/run_dir.h"
#include "launcher/run_state.h"
#include "launcher/slurm_executor.h"
#include "launcher/subprocess.h"
#include "launcher/sweep_calibration.h"
#include "launcher/sweep_estimate.h"
#include "launcher/sweep_spec.h"

#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

struct SweepArgs {
  std::string file;
  std::string executor;  // "" = the sweep file's
  int max_parallel = 0;  // 0 = the sweep file's
  std::string work_dir;
  std::vector<std::string> sets;
  bool dry_run = false;
  bool retry_failed = false;
  bool no_calibration = false;
  SlurmOptions slurm;
};

struct PlannedRun {
  SweepPoint point;
  std::string dir;
  std::string hash;
  RunState state;
  JobShape shape;
  bool launch = false;
};

std::vector<PlannedRun> plan(const SweepSpec& spec, const SweepArgs& a, const std::string& sweep_dir) {
  std::vector<PlannedRun> out;
  std::map<std::string, size_t> seen;
  for (auto& p : expand(spec)) {
    auto sets = p.set_args();
    sets.insert(sets.end(), a.sets.begin(), a.sets.end());
    const auto cfg = config::load(p.base, sets);
    PlannedRun r;
    r.hash = cfg.hash();
    r.shape = job_shape(cfg.json());
    r.dir = fs::absolute(fs::path(sweep_dir) / r.hash).lexically_normal().string();
    if (seen.count(r.hash)) continue;  // two points with the same resolved config: one run
    seen[r.hash] = out.size();
    const std::string job = recorded_job_id(r.dir);
    std::string slurm_state;
    if (!job.empty()) {
      const auto st = slurm_job_states({job});
      if (auto it = st.find(job); it != st.end()) slurm_state = it->second;
    }
    r.state = read_run_state(r.dir, slurm_state);
    const std::string& s = r.state.state;
    r.launch = s == "pending" || s == "preempted" || (s == "failed" && a.retry_failed);
    if (!a.dry_run) {
      config::write_resolved(cfg, r.dir);
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [k, v] : p.overrides) o[k] = v;
      for (const auto& s2 : a.sets) o[s2.substr(0, s2.find('='))] = s2.substr(s2.find('=') + 1);
      nlohmann::json record{{"base", p.base}, {"overrides", o}, {"hparams", p.hparams}, {"seed", p.seed}};
      if (!p.domainbed.is_null()) record["domainbed"] = p.domainbed;
      fs_util::write_file_atomic(r.dir + "/sweep_overrides.json", record.dump(2) + "\n");
    }
    r.point = std::move(p);
    out.push_back(std::move(r));
  }
  return out;
}

// A run about to be launched again starts with a clean slate of outcome
// files (its checkpoints stay: it resumes from them).
void reset_outcome(const std::string& dir) {
  fs::remove_all(fs::path(dir) / "status");
  fs::remove(fs::path(dir) / "local_pid");
  fs::remove(fs::path(dir) / "slurm_requeue_limit");
}

// The local runs' process groups, for the signal handler (async-signal-safe:
// a fixed table of atomics, no allocation).
std::array<std::atomic<pid_t>, 256> g_run_groups{};
volatile std::sig_atomic_t g_sweep_signal = 0;

extern "C" void forward_to_runs(int sig) {
  g_sweep_signal = sig;
  for (auto& g : g_run_groups) {
    const pid_t pid = g.load();
    if (pid > 0) kill(-pid, sig);
  }
}

// SIGINT, SIGTERM, SIGUSR1, SIGUSR2 on `uda sweep` reach every running run
// (whose `uda train` forwards them to its ranks: they checkpoint and exit for
// requeue); no further run is started. Starting the sweep again resumes them.
void install_sweep_signal_forwarding() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_to_runs;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
}

int run_local_slots(const SweepSpec& spec, const SweepArgs& a, const std::vector<PlannedRun*>& todo, int slots) {
  if (slots > static_cast<int>(g_run_groups.size()))
    throw UserError("--max-parallel " + std::to_string(slots) + " is more than a local sweep runs at once",
                    "--max-parallel", "use at most " + std::to_string(g_run_groups.size()));
  install_sweep_signal_forwarding();
  std::map<pid_t, PlannedRun*> running;
  size_t next = 0, failed = 0;
  auto track = [](pid_t pid, bool add) {
    for (auto& g : g_run_groups) {
      pid_t expected = add ? 0 : pid;
      if (g.compare_exchange_strong(expected, add ? pid : 0)) return;
    }
  };
  auto reap_one = [&] {
    int st = 0;
    const pid_t pid = waitpid(-1, &st, 0);
    if (pid <= 0) return;  // EINTR: a forwarded signal
    auto it = running.find(pid);
    if (it == running.end()) return;
    const int code = exit_code_of(st);
    const auto s = read_run_state(it->second->dir);
    std::cerr << "uda: run " << it->second->hash << " " << (code == 0 ? "done" : s.state)
              << (code == 0 ? "" : " (exit " + std::to_string(code) + (s.reason.empty() ? "" : ": " + s.reason) + ")")
              << "\n";
    if (code != 0) ++failed;
    track(pid, false);
    running.erase(it);
  };
  while (next < todo.size() || !running.empty()) {
    while (g_sweep_signal == 0 && next < todo.size() && static_cast<int>(running.size()) < slots) {
      PlannedRun* r = todo[next++];
      reset_outcome(r->dir);
      std::vector<std::string> argv{self_exe(), "--log-level", global_options().log_level, "train", r->point.base};
      for (const auto& s : r->point.set_args()) argv.insert(argv.end(), {"--set", s});
      for (const auto& s : a.sets) argv.insert(argv.end(), {"--set", s});
      argv.insert(argv.end(), {"--nproc", std::to_string(spec.nproc), "--executor", "local", "--work-dir", r->dir,
                               "--resume", "auto"});
      const pid_t pid = spawn_logged(argv, r->dir + "/launcher.log");
      fs_util::write_file_atomic(r->dir + "/local_pid", std::to_string(pid) + "\n");
      std::cerr << "uda: started run " << r->hash << " (" << running.size() + 1 << " of " << slots << " slots)\n";
      running[pid] = r;
      track(pid, true);
      // A signal that arrived between fork and track() missed this run.
      if (g_sweep_signal != 0) kill(-pid, g_sweep_signal);
    }
    if (!running.empty()) reap_one();
    if (g_sweep_signal != 0 && running.empty()) break;
  }
  if (g_sweep_signal != 0) {
    std::cerr << "uda: sweep interrupted by signal " << g_sweep_signal << "; " << todo.size() - next
              << " run(s) not started; start the sweep again to resume the interrupted ones\n";
    return kExitRequeue;
  }
  if (failed > 0) {
    std::cerr << "uda: error: " << failed << " of " << todo.size()
              << " run(s) did not finish: see `uda sweep status` for the reasons\n";
    return kExitInternalError;
  }
  return kExitOk;
}

// One line per run: its directory name, whether it is launched, its state,
// and what varies (the dataset of a DomainBed job, the hyper-parameters,
// train.seed).
void print_dry_run(const std::vector<PlannedRun>& runs) {
  for (const auto& r : runs) {
    std::cout << r.hash << "  " << (r.launch ? "launch " : "skip   ") << r.state.state;
    if (!r.point.domainbed.is_null()) std::cout << "  dataset=" << r.point.domainbed["dataset"].get<std::string>();
    for (const auto& [key, v] : r.point.hparams.items()) std::cout << "  " << key << "=" << v.dump();
    if (!r.point.seed.is_null()) std::cout << "  train.seed=" << r.point.seed.dump();
    std::cout << "\n";
  }
}

// The timings the estimate uses: the sweep's finished runs, else its
// calibration run, which a DomainBed sweep makes when it has neither (not on
// --dry-run or --no-calibration). `source` says where they came from.
std::vector<RunTiming> sweep_timings(const SweepSpec& spec, const SweepArgs& a, const std::vector<PlannedRun*>& todo,
                                     const std::string& sweep_dir, const std::string& executor, std::string* source) {
  auto timings = read_timings(sweep_dir);
  *source = std::to_string(timings.size()) + " finished run(s) in " + sweep_dir;
  if (!timings.empty()) return timings;
  *source = "the calibration run " + calibration_dir(sweep_dir);
  if (auto t = read_timing(calibration_dir(sweep_dir))) return {*t};
  if (!spec.domainbed || a.dry_run || a.no_calibration || todo.empty()) return {};
  const int code = run_calibration(todo.front()->point, a.sets, spec.nproc, executor, a.slurm, sweep_dir);
  if (code != 0) {
    const auto failure = failed_rank(calibration_dir(sweep_dir), 0);
    std::cerr << "uda: error: the calibration run (the sweep's first job) failed"
              << (failure ? ": " + failure->reason
                          : " (exit " + std::to_string(code) + ", " + calibration_dir(sweep_dir) + "/logs)")
              << "\n";
    throw CommandExit{code == kExitUserError ? kExitUserError : kExitInternalError};
  }
  if (auto t = read_timing(calibration_dir(sweep_dir))) return {*t};
  return {};
}

void print_estimate(const SweepSpec& spec, const std::vector<PlannedRun*>& todo, const std::vector<RunTiming>& timings,
                    const std::string& source, const std::string& sweep_dir, const std::string& executor, int k) {
  if (todo.empty()) return;
  if (timings.empty()) {
    std::cerr << "uda: estimate: none yet (no finished run in " << sweep_dir
              << (spec.domainbed ? "; started without --dry-run, the sweep first times its first job" : "") << ")\n";
    return;
  }
  double total = 0;
  for (const auto* r : todo) total += job_seconds(r->shape, timings).value_or(0.0);
  const int slots = executor == "local" ? std::max(k, 1) : k;
  std::cerr << "uda: estimate: about " << format_duration(total) << " of run time for " << todo.size() << " job(s)";
  if (slots > 0)
    std::cerr << " (about "
              << format_duration(total / std::min<double>(slots, static_cast<double>(todo.size())))
              << " with " << slots << " at a time)";
  std::cerr << ", from the step and evaluation times of " << source << "\n";
}

void print_status(const std::string& dir, bool json) {
  if (!fs::is_directory(dir)) throw UserError("no such sweep directory", dir, "give the --work-dir of `uda sweep`");
  std::vector<std::string> dirs, jobs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "config.json")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs)
    if (auto j = recorded_job_id(d); !j.empty()) jobs.push_back(j);
  const auto states = slurm_job_states(jobs);
  nlohmann::json rows = nlohmann::json::array();
  std::map<std::string, int> counts;
  for (const auto& d : dirs) {
    const std::string job = recorded_job_id(d);
    auto it = states.find(job);
    const auto s = read_run_state(d, it == states.end() ? "" : it->second);
    ++counts[s.state];
    auto j = to_json(s);
    if (fs::exists(fs::path(d) / "sweep_overrides.json")) {
      const auto o = config::read_json_file(d + "/sweep_overrides.json");
      j["hparams"] = o.value("hparams", nlohmann::json::object());
      if (o.contains("seed") && !o["seed"].is_null()) j["hparams"]["train.seed"] = o["seed"];
    }
    rows.push_back(std::move(j));
  }
  if (json) {
    std::cout << rows.dump(2) << "\n";
    return;
  }
  printf("%-16s  %-9s  %9s  %7s  %-14s  %s\n", "run", "state", "iteration", "miou", "job", "overrides / reason");
  for (const auto& r : rows) {
    char miou[16] = "-";
    if (r["miou"].is_number()) snprintf(miou, sizeof miou, "%.2f", 100 * r["miou"].get<double>());
    std::string detail;
    if (r.contains("reason"))
      detail = r["reason"].get<std::string>();
    else if (r.contains("hparams"))
      for (const auto& [k, v] : r["hparams"].items()) detail += k + "=" + v.dump() + " ";
    const std::string job = r["job_id"].get<std::string>();
    printf("%-16s  %-9s  %9lld  %7s  %-14s  %s\n", r["run"].get<std::string>().c_str(),
           r["state"].get<std::string>().c_str(), static_cast<long long>(r["iteration"].get<int64_t>()), miou,
           job.empty() ? "-" : job.c_str(), detail.c_str());
  }
  std::string summary;
  for (const auto& [k, v] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(v) + " " + k;
  printf("%zu run(s): %s\n", rows.size(), summary.c_str());
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  static SweepArgs a;
  auto* sub = app.add_subcommand("sweep", "Run a hyper-parameter sweep (runs named by config hash)");
  sub->add_option("sweep", a.file, "Sweep file (JSON; see docs/SLURM.md)");
  sub->add_option("--executor", a.executor, "local or slurm (default: the sweep file's)")
      ->check(CLI::IsMember({"local", "slurm"}));
  sub->add_option("--max-parallel", a.max_parallel, "Runs at a time (local slots, or the array's %K throttle)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--work-dir", a.work_dir, "Sweep directory (default sweeps/<name>)");
  sub->add_option("--set", a.sets, "Override a key of every run: a.b.c=VALUE");
  sub->add_flag("--dry-run", a.dry_run, "List the runs and what would be launched; change nothing");
  sub->add_flag("--retry-failed", a.retry_failed, "Launch failed runs again (they resume from their checkpoints)");
  sub->add_flag("--no-calibration", a.no_calibration,
                "Do not time the first job of a DomainBed sweep that has no finished run (no estimate then)");
  add_slurm_options(*sub, a.slurm);

  static std::string status_dir;
  static bool status_json = false;
  auto* st = sub->add_subcommand("status", "Table of a sweep's runs: state, iteration, last mIoU, job");
  st->add_option("dir", status_dir, "Sweep directory")->required();
  st->add_flag("--json", status_json, "JSON list of runs");
  st->callback([] {
    print_status(status_dir, status_json);
    throw CommandExit{0};
  });

  sub->callback([sub, st] {
    if (st->parsed()) return;
    if (a.file.empty())
      throw UserError("no sweep file given", "uda sweep", "run `uda sweep SWEEP.json` or `uda sweep status DIR`");
    const SweepSpec spec = load_sweep(a.file);
    const std::string executor = a.executor.empty() ? spec.executor : a.executor;
    const std::string sweep_dir = a.work_dir.empty() ? (fs::path("sweeps") / spec.name).string() : a.work_dir;
    int k = a.max_parallel > 0 ? a.max_parallel : spec.max_parallel;
    auto runs = plan(spec, a, sweep_dir);
    std::vector<PlannedRun*> todo;
    for (auto& r : runs)
      if (r.launch) todo.push_back(&r);
    std::cerr << "uda: sweep " << spec.name << ": " << runs.size() << " run(s) in " << sweep_dir << ", "
              << todo.size() << " to launch (" << executor << ")\n";
    if (a.dry_run) print_dry_run(runs);
    std::string source;
    const auto timings = sweep_timings(spec, a, todo, sweep_dir, executor, &source);
    print_estimate(spec, todo, timings, source, sweep_dir, executor, k);
    if (a.dry_run) throw CommandExit{0};
    fs::create_directories(sweep_dir);
    fs::copy_file(a.file, fs::path(sweep_dir) / "sweep.json", fs::copy_options::overwrite_existing);
    if (todo.empty()) {
      std::cerr << "uda: nothing to launch (finished and running runs are skipped";
      std::cerr << (a.retry_failed ? ")\n" : "; failed ones need --retry-failed)\n");
      throw CommandExit{0};
    }
    if (executor == "local") throw CommandExit{run_local_slots(spec, a, todo, k > 0 ? k : 1)};

    std::vector<std::string> dirs;
    for (auto* r : todo) {
      reset_outcome(r->dir);
      dirs.push_back(r->dir);
    }
    const std::string id = submit_slurm_array(a.slurm, spec.nproc, sweep_dir, dirs, k,
                                              {self_exe(), "--log-level", global_options().log_level, "worker"});
    std::cout << id << std::endl;
    std::cerr << "uda: submitted SLURM job array " << id << " (" << dirs.size() << " task(s)"
              << (k > 0 ? ", " + std::to_string(k) + " at a time" : std::string()) << ")\n";
    if (!a.slurm.wait) throw CommandExit{0};
    for (size_t i = 0; i < dirs.size(); ++i) wait_for_slurm_job(id + "_" + std::to_string(i));
    size_t done = 0;
    for (const auto& d : dirs) done += read_run_state(d).state == "done";
    if (done != dirs.size()) {
      std::cerr << "uda: error: " << dirs.size() - done << " of " << dirs.size()
                << " run(s) did not finish: see `uda sweep status " << sweep_dir << "`\n";
      throw CommandExit{kExitInternalError};
    }
    std::cerr << "uda: all " << dirs.size() << " run(s) done\n";
    throw CommandExit{0};
  });
}

}  // namespace uda::cli
