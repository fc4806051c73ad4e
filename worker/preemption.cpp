#include "worker/preemption.h"

#include "core/error.h"

#include <atomic>
#include <csignal>
#include <cstring>

namespace uda::worker {

namespace {
std::atomic<int> g_signal{0};

extern "C" void on_preempt(int sig) { g_signal.store(sig); }

int signal_number(std::string name) {
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  if (name == "USR1") return SIGUSR1;
  if (name == "USR2") return SIGUSR2;
  if (name == "TERM") return SIGTERM;
  if (name == "INT") return SIGINT;
  if (name == "HUP") return SIGHUP;
  if (name == "CONT") return SIGCONT;
  return -1;
}
}  // namespace

void install_preemption_handlers(const std::string& user_signal) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_preempt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  if (!user_signal.empty()) {
    int sig = signal_number(user_signal);
    if (sig < 0)
      throw UserError("unknown preemption signal '" + user_signal + "'", "train.preempt_signal",
                      "use USR2 (default), USR1, TERM, INT or HUP");
    sigaction(sig, &sa, nullptr);
  }
}

bool preemption_requested() { return g_signal.load() != 0; }
int preemption_signal() { return g_signal.load(); }
void reset_preemption() { g_signal.store(0); }

}  // namespace uda::worker
