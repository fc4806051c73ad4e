#include "launcher/local_executor.h"

#include "core/error.h"
#include "launcher/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace uda::cli {

namespace {
std::atomic<pid_t> g_child{0};

extern "C" void forward_signal(int sig) {
  pid_t c = g_child.load();
  if (c > 0) kill(-c, sig);
}

std::string find_mpirun() {
  for (const char* cand : {"mpirun", "mpiexec"}) {
    std::string cmd = std::string("command -v ") + cand + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return cand;
  }
  throw UserError("mpirun not found", "PATH", "install Open MPI (scripts/install-deps.sh) or run with --nproc 1");
}
}  // namespace

std::vector<std::string> mpirun_command(const LocalLaunch& l) {
  std::vector<std::string> cmd{find_mpirun(), "-np", std::to_string(l.nproc)};
  if (geteuid() == 0) cmd.push_back("--allow-run-as-root");
  // More ranks than cores is normal for CPU tests and demos.
  cmd.insert(cmd.end(), {"--oversubscribe", "--bind-to", "none"});
  // Shared-memory transport without CMA (not permitted in many containers).
  cmd.insert(cmd.end(), {"--mca", "btl_vader_single_copy_mechanism", "none"});
  // -q: no abort banner after a rank's non-zero exit (the launcher reports
  // the rank's reason itself); --log-level debug or trace keeps it.
  const std::string& level = global_options().log_level;
  if (level != "debug" && level != "trace") cmd.push_back("-q");
  cmd.insert(cmd.end(), l.worker_argv.begin(), l.worker_argv.end());
  return cmd;
}

int run_local(const LocalLaunch& l) {
  auto cmd = mpirun_command(l);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    if (!l.log_path.empty()) {
      int fd = open(l.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    std::vector<char*> argv;
    for (auto& a : cmd) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  setpgid(pid, pid);
  g_child.store(pid);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child.store(0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace uda::cli
