// `uda config show CONFIG [--set k=v ...]` and `uda config doc`.
#include "algos/algorithm.h"
#include "core/config.h"
#include "core/schema.h"
#include "launcher/commands.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace uda::cli {

void add_config_command(CLI::App& app) {
  auto* cfg = app.add_subcommand("config", "Show the resolved config, or document every config key");
  cfg->require_subcommand(1);

  auto* show = cfg->add_subcommand("show", "Print the resolved config (bases merged, overrides applied, defaults filled)");
  static std::string file;
  static std::vector<std::string> sets;
  show->add_option("config", file, "Config file (JSON)")->required();
  show->add_option("--set", sets, "Override a key: a.b.c=VALUE (VALUE parsed as JSON, else a string)");
  show->callback([] {
    auto c = config::load(file, sets);
    std::cout << c.json().dump(2) << "\n";
    std::cerr << "config hash " << c.hash() << "\n";
  });

  auto* algos = cfg->add_subcommand("algorithms", "List the registered algorithms (values of algorithm.name)");
  algos->callback([] {
    for (const auto& name : algos::registered_algorithms()) std::cout << name << "\n";
  });

  auto* doc = cfg->add_subcommand("doc", "List every declared config key with its type, default and doc");
  static bool as_json = false;
  doc->add_flag("--json", as_json, "One JSON object per key");
  doc->callback([] {
    for (const auto& [path, spec] : config::Schema::global().keys()) {
      if (as_json) {
        nlohmann::json j{{"key", path}, {"type", config::type_name(spec.type)}, {"default", spec.default_value},
                         {"doc", spec.doc}, {"required", spec.required}};
        if (!spec.choices.empty()) j["choices"] = spec.choices;
        std::cout << j.dump() << "\n";
      } else {
        std::cout << path << "  (" << config::type_name(spec.type)
                  << (spec.required ? ", required" : ", default " + spec.default_value.dump()) << ")\n    "
                  << spec.doc << "\n";
      }
    }
  });
}

}  // namespace uda::cli
