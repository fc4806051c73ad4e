#include "data/convert/registry.h"

#include "core/error.h"

#include <filesystem>

namespace uda::data {

const std::vector<std::string>& convert_formats() {
  static const std::vector<std::string> formats{"gta5", "cityscapes", "synthia", "idx", "imagefolder", "toyscenes"};
  return formats;
}

std::vector<std::string> convert(const ConvertOptions& options) {
  if (options.out.empty()) throw UserError("no output directory", "--out", "pass --out DIR");
  RunSettings settings;
  settings.shard_size = options.shard_size;
  settings.jobs = options.jobs;
  settings.encoding = parse_encoding(options.encoding, "--encoding");
  settings.progress = options.progress;
  if (options.jobs < 1) throw UserError("--jobs must be at least 1", "--jobs", "e.g. --jobs 4");
  const std::string& f = options.format;
  if (f == "toyscenes") {
    std::vector<std::string> written;
    for (auto& [sub, plan] : plans_toyscenes(options)) {
      std::string dir = options.out + "/" + sub;
      settings.label = "toyscenes/" + sub;
      run_conversion(plan, dir, settings);
      written.push_back(dir);
    }
    return written;
  }
  if (options.src.empty()) throw UserError("no source directory", "--src", "pass --src DIR (the raw dataset tree)");
  if (!std::filesystem::exists(options.src))
    throw UserError("source does not exist", options.src, "check the --src path");
  ConversionPlan plan;
  if (f == "gta5")
    plan = plan_gta5(options);
  else if (f == "cityscapes")
    plan = plan_cityscapes(options);
  else if (f == "synthia")
    plan = plan_synthia(options);
  else if (f == "idx")
    plan = plan_idx(options);
  else if (f == "imagefolder")
    plan = plan_imagefolder(options);
  else
    throw UserError("unknown dataset format \"" + f + "\"", "--format",
                    "use one of gta5, cityscapes, synthia, idx, imagefolder, toyscenes");
  settings.label = f;
  run_conversion(plan, options.out, settings);
  return {options.out};
}

}  // namespace uda::data
