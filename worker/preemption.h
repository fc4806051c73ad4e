// Preemption signals: SIGTERM and a configurable user signal (default
// SIGUSR2, because NCCL may claim SIGUSR1) set a flag; the trainer checks it
// at step boundaries, all ranks agree, checkpoint and exit with kExitRequeue.
#pragma once

#include <string>

namespace uda::worker {

// Installs the handlers; `user_signal` is a name like "USR2" or "SIGUSR2",
// or "" for SIGTERM only. UserError for an unknown name.
void install_preemption_handlers(const std::string& user_signal);
bool preemption_requested();
// The signal number that set the flag (0 if none).
int preemption_signal();
// For tests: clears the flag.
void reset_preemption();

}  // namespace uda::worker
