#include "core/log.h"

#include "core/error.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <vector>

namespace uda::log {

void check_level(const std::string& level) {
  if (spdlog::level::from_str(level) == spdlog::level::off && level != "off")
    throw UserError("unknown log level '" + level + "'", "--log-level",
                    "use one of trace, debug, info, warn, error, off");
}

void init(const Options& o) {
  check_level(o.level);
  std::vector<spdlog::sink_ptr> sinks;
  if (o.rank == 0 || o.console_all_ranks) {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sinks.push_back(console);
  }
  if (!o.run_dir.empty()) {
    auto dir = std::filesystem::path(o.run_dir) / "logs";
    std::filesystem::create_directories(dir);
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
        (dir / ("rank-" + std::to_string(o.rank) + ".log")).string());
    sinks.push_back(file);
  }
  auto logger = std::make_shared<spdlog::logger>("uda", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(o.rank) + "/" +
                      std::to_string(o.world_size) + "] [%^%l%$] %v");
  logger->set_level(spdlog::level::from_str(o.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void error_to_file(const std::string& message) {
  std::vector<spdlog::sink_ptr> files;
  for (const auto& s : spdlog::default_logger()->sinks())
    if (std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s)) files.push_back(s);
  spdlog::logger to_file("uda", files.begin(), files.end());
  to_file.error("{}", message);
  to_file.flush();
}

}  // namespace uda::log
