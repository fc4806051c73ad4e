// `uda report RUN_DIR | SWEEP_DIR | RUN_DIR...`: a self-contained HTML page
// of a run (report.h) or one comparing runs (compare_report.h); with
// --watch, rewritten every --interval seconds until the runs finish, the
// page reloading itself meanwhile.
#include "core/error.h"
#include "launcher/commands.h"
#include "launcher/compare_report.h"
#include "launcher/iter_records.h"
#include "launcher/report.h"
#include "launcher/run_record.h"
#include "launcher/run_state.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> dirs;
  std::string out;
  bool watch = false;
  int interval_s = 30;
};

bool single_run(const ReportArgs& a) { return a.dirs.size() == 1 && is_run_dir(a.dirs.front()); }

std::string write_page(const ReportArgs& a, int live_interval_s) {
  return single_run(a) ? write_report(a.dirs.front(), a.out, live_interval_s)
                       : write_comparison(a.dirs, a.out, live_interval_s);
}

// The run directories the page shows.
std::vector<std::string> shown_runs(const ReportArgs& a) {
  if (a.dirs.size() > 1 || single_run(a)) return a.dirs;
  std::vector<std::string> out;
  for (const auto& r : read_runs(a.dirs.front())) out.push_back(r.dir);
  return out;
}

// Whether there is something to show: a run that has logged a record.
bool has_logged(const std::vector<std::string>& runs) {
  for (const auto& r : runs) {
    const fs::path metrics = fs::path(r) / "metrics.jsonl";
    std::vector<std::string> notes;
    if (fs::exists(metrics) && !read_iter_records(metrics.string(), notes).by_iter.empty()) return true;
  }
  return false;
}

// Done, failed or preempted: nothing will change until someone starts them again.
bool all_stopped(const std::vector<std::string>& runs) {
  for (const auto& r : runs) {
    const std::string s = read_run_state(r).state;
    if (s == "running" || s == "pending") return false;
  }
  return !runs.empty();
}

volatile std::sig_atomic_t g_stop_watching = 0;

extern "C" void stop_watching(int) { g_stop_watching = 1; }

// Ctrl-C or SIGTERM end --watch after one more page, which no longer reloads.
void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop_watching;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
}

void sleep_unless_stopped(int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!g_stop_watching && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

void watch(const ReportArgs& a) {
  for (const auto& d : a.dirs)
    if (!fs::is_directory(d))
      throw UserError("no such directory", d, "give a run directory, a sweep directory, or several run directories");
  install_stop_handlers();
  std::cerr << "uda: rewriting the report every " << a.interval_s << " s until the run(s) stop; Ctrl-C ends it\n";
  bool written = false, waiting_said = false;
  for (;;) {
    const auto runs = shown_runs(a);
    const bool last = all_stopped(runs) || g_stop_watching;
    if (has_logged(runs)) {
      const std::string page = write_page(a, last ? 0 : a.interval_s);
      if (!written) std::cout << page << std::endl;
      written = true;
    } else if (!waiting_said) {
      std::cerr << "uda: waiting for a run to log its first record (metrics.jsonl)\n";
      waiting_said = true;
    }
    if (last) break;
    sleep_unless_stopped(a.interval_s);
  }
  std::cerr << "uda: " << (g_stop_watching ? "stopped" : "the run(s) stopped") << "; "
            << (written ? "the page no longer reloads" : "no page written (nothing logged)") << "\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
  static ReportArgs a;
  auto* sub = app.add_subcommand("report", "A self-contained HTML page of a run, or one comparing runs");
  sub->add_option("dirs", a.dirs, "A run directory, a sweep directory, or several run directories")->required();
  sub->add_option("--out", a.out,
                  "Output directory (default: RUN_DIR/report or SWEEP_DIR/report; required for several runs)");
  sub->add_flag("--watch", a.watch, "Rewrite the page until the run(s) stop; the page reloads itself meanwhile");
  sub->add_option("--interval", a.interval_s, "Seconds between rewrites with --watch (default 30)")
      ->check(CLI::Range(1, 86400));
  sub->callback([] {
    if (a.watch)
      watch(a);
    else
      std::cout << write_page(a, 0) << "\n";
  });
}

}  // namespace uda::cli
