// Subcommands whose implementation has not landed yet. Each one moves to
// its own cmd_<name>.cpp when it is built.
#include "launcher/commands.h"

namespace uda::cli {

void add_report_command(CLI::App& app) { add_unbuilt_command(app, "report", "Curves, per-class plots and an HTML page of a run"); }

}  // namespace uda::cli
