#include "launcher/sweep_spec.h"

#include "core/config.h"
#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

void require(bool ok, const std::string& what, const std::string& where, const std::string& fix) {
  if (!ok) throw UserError(what, where, fix);
}

// A uniform double in [0, 1) from the raw generator output: the standard
// distributions' algorithms differ between library implementations, and a
// sweep must draw the same values everywhere.
double unit(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

nlohmann::json draw(const std::string& key, const nlohmann::json& dist, std::mt19937_64& g, const std::string& file) {
  const std::string where = file + ": random.space." + key;
  const std::string fix =
      R"(use {"log_uniform": [lo, hi]}, {"uniform": [lo, hi]}, {"int_uniform": [lo, hi]} or {"choice": [v1, v2, ...]})";
  require(dist.is_object() && dist.size() == 1, "a random search dimension needs exactly one distribution", where, fix);
  const std::string kind = dist.begin().key();
  const nlohmann::json& arg = dist.begin().value();
  if (kind == "choice") {
    require(arg.is_array() && !arg.empty(), "choice needs a non-empty list", where, fix);
    return arg[static_cast<size_t>(unit(g) * static_cast<double>(arg.size()))];
  }
  require(arg.is_array() && arg.size() == 2 && arg[0].is_number() && arg[1].is_number(),
          kind + " needs two numbers [lo, hi]", where, fix);
  const double lo = arg[0].get<double>(), hi = arg[1].get<double>();
  require(lo <= hi, kind + " needs lo <= hi", where, fix);
  const double u = unit(g);
  if (kind == "uniform") return lo + u * (hi - lo);
  if (kind == "log_uniform") {
    require(lo > 0, "log_uniform needs lo > 0", where, fix);
    return std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)));
  }
  if (kind == "int_uniform") return static_cast<int64_t>(std::floor(lo + u * (hi - lo + 1)));
  throw UserError("unknown distribution '" + kind + "'", where, fix);
}

std::string set_arg(const std::string& key, const nlohmann::json& v) { return key + "=" + v.dump(); }

const char* kFix = "see the sweep file format in docs/SLURM.md";

void check_keys(const nlohmann::json& doc, const std::string& file, bool domainbed) {
  const std::vector<std::string> known =
      domainbed ? std::vector<std::string>{"name", "protocol", "set", "nproc", "executor", "max_parallel", "datasets",
                                           "algorithms", "test_domains", "n_hparams", "n_trials"}
                : std::vector<std::string>{"name", "protocol", "base", "set", "grid", "random", "seeds", "nproc",
                                           "executor", "max_parallel"};
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  for (const auto& [k, v] : doc.items())
    require(std::find(known.begin(), known.end(), k) != known.end(), "unknown key '" + k + "'",
            file + (domainbed ? " (protocol domainbed)" : ""), "use " + list);
}

void parse_run_options(const nlohmann::json& doc, const std::string& file, SweepSpec& s) {
  s.name = doc.value("name", std::string("sweep"));
  if (doc.contains("set")) {
    require(doc["set"].is_object(), "\"set\" must be an object of key: value", file + ": set", kFix);
    s.set = doc["set"];
  }
  s.nproc = doc.value("nproc", 1);
  require(s.nproc >= 1, "nproc must be >= 1", file + ": nproc", kFix);
  s.executor = doc.value("executor", std::string("local"));
  require(s.executor == "local" || s.executor == "slurm", "executor must be local or slurm", file + ": executor", kFix);
  s.max_parallel = doc.value("max_parallel", 0);
}

void parse_grid_sweep(const nlohmann::json& doc, const std::string& file, SweepSpec& s) {
  require(doc.contains("base") && doc["base"].is_string(), "missing \"base\" (the config to sweep over)", file, kFix);
  s.base = resolve_sweep_path(doc["base"].get<std::string>(), file, file + ": base");
  if (doc.contains("grid")) {
    require(doc["grid"].is_object(), "\"grid\" must be an object of key: [values]", file + ": grid", kFix);
    for (const auto& [k, v] : doc["grid"].items())
      require(v.is_array() && !v.empty(), "grid values must be a non-empty list", file + ": grid." + k, kFix);
    s.grid = doc["grid"];
  }
  if (doc.contains("random")) {
    const auto& r = doc["random"];
    require(r.is_object() && r.contains("n") && r["n"].is_number_integer() && r["n"].get<int>() >= 1 &&
                r.contains("space") && r["space"].is_object(),
            "\"random\" needs n (>= 1) and space", file + ": random", kFix);
    s.random_n = r["n"].get<int>();
    s.random_seed = r.value("seed", uint64_t{0});
    s.random_space = r["space"];
  }
  if (doc.contains("seeds")) {
    require(doc["seeds"].is_array(), "\"seeds\" must be a list of integers", file + ": seeds", kFix);
    for (const auto& v : doc["seeds"]) {
      require(v.is_number_integer(), "\"seeds\" must be a list of integers", file + ": seeds", kFix);
      s.seeds.push_back(v);
    }
  }
}

}  // namespace

std::vector<std::string> SweepPoint::set_args() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : overrides) out.push_back(set_arg(k, v));
  return out;
}

std::string resolve_sweep_path(const std::string& path, const std::string& file, const std::string& where) {
  fs::path p = path;
  if (p.is_relative() && !fs::exists(p) && fs::exists(fs::path(file).parent_path() / p))
    p = fs::path(file).parent_path() / p;
  require(fs::exists(p), "config " + p.string() + " not found", where,
          "give a path relative to the working directory or to the sweep file");
  return p.string();
}

SweepSpec parse_sweep(const nlohmann::json& doc, const std::string& file) {
  require(doc.is_object(), "a sweep file must be a JSON object", file, kFix);
  const nlohmann::json protocol = doc.value("protocol", nlohmann::json());
  require(protocol.is_null() || protocol == "domainbed", "unknown protocol " + protocol.dump(), file + ": protocol",
          "use \"domainbed\", or leave it out for a grid/random sweep");
  const bool domainbed = !protocol.is_null();
  check_keys(doc, file, domainbed);
  SweepSpec s;
  parse_run_options(doc, file, s);
  if (domainbed)
    s.domainbed = parse_dg_sweep(doc, file);
  else
    parse_grid_sweep(doc, file, s);
  return s;
}

SweepSpec load_sweep(const std::string& file) { return parse_sweep(config::read_json_file(file), file); }

std::vector<SweepPoint> expand(const SweepSpec& spec) {
  if (spec.domainbed) {
    std::vector<SweepPoint> out;
    for (const auto& job : dg_jobs(*spec.domainbed)) out.push_back(dg_point(job, spec.set, spec.nproc));
    return out;
  }
  // Grid points: nlohmann's objects iterate in sorted key order.
  std::vector<std::vector<std::pair<std::string, nlohmann::json>>> grid{{}};
  for (const auto& [key, values] : spec.grid.items()) {
    std::vector<std::vector<std::pair<std::string, nlohmann::json>>> next;
    for (const auto& g : grid)
      for (const auto& v : values) {
        auto p = g;
        p.emplace_back(key, v);
        next.push_back(std::move(p));
      }
    grid = std::move(next);
  }
  std::vector<std::vector<std::pair<std::string, nlohmann::json>>> draws{{}};
  if (spec.random_n > 0) {
    draws.clear();
    std::mt19937_64 g(spec.random_seed);
    for (int i = 0; i < spec.random_n; ++i) {
      std::vector<std::pair<std::string, nlohmann::json>> d;
      for (const auto& [key, dist] : spec.random_space.items()) d.emplace_back(key, draw(key, dist, g, "sweep"));
      draws.push_back(std::move(d));
    }
  }
  std::vector<nlohmann::json> seeds = spec.seeds;
  if (seeds.empty()) seeds.push_back(nullptr);

  std::vector<SweepPoint> out;
  for (const auto& gp : grid)
    for (const auto& dp : draws)
      for (const auto& seed : seeds) {
        SweepPoint p;
        p.base = spec.base;
        for (const auto& [k, v] : spec.set.items()) p.overrides.emplace_back(k, v);
        for (const auto* part : {&gp, &dp})
          for (const auto& [k, v] : *part) {
            p.overrides.emplace_back(k, v);
            p.hparams[k] = v;
          }
        if (!seed.is_null()) p.overrides.emplace_back("train.seed", seed);
        p.seed = seed;
        out.push_back(std::move(p));
      }
  return out;
}

}  // namespace uda::cli
