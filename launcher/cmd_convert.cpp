// `uda convert --format F --src DIR --out DIR ...`: raw dataset trees to
// sharded HDF5 with class statistics (docs/FORMATS.md).
#include "data/convert/registry.h"
#include "launcher/commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

namespace uda::cli {

void add_convert_command(CLI::App& app) {
  static data::ConvertOptions o;
  static bool quiet = false;
  auto* cmd = app.add_subcommand("convert", "Convert a raw dataset tree to sharded HDF5 with class statistics");
  cmd->add_option("--format", o.format, "gta5 | cityscapes | synthia | idx | imagefolder | toyscenes")->required();
  cmd->add_option("--src", o.src, "Raw dataset directory (not needed for toyscenes)");
  cmd->add_option("--out", o.out, "Output dataset directory; re-running the same command resumes")->required();
  cmd->add_option("--split", o.split, "Split to convert (cityscapes: train|val|test; idx: train|t10k)");
  cmd->add_option("--resize", o.resize,
                  "WxH or none; defaults: gta5 1280x720, cityscapes train 1024x512 (val: none), synthia 1280x760");
  cmd->add_option("--shard-size", o.shard_size, "Samples per shard")->default_val(1000);
  cmd->add_option("--jobs", o.jobs, "Converter threads")->default_val(1);
  cmd->add_option("--seed", o.seed, "Seed of generated or randomised constructions")->default_val(0);
  cmd->add_option("--encoding", o.encoding, "Image storage in shards: raw | deflate | png")->default_val("raw");
  cmd->add_flag("--lenient-labels", o.lenient_labels, "Map label ids unknown to the format to 255 instead of failing");
  cmd->add_option("--size", o.size, "toyscenes: image size WxH (default 128x96)");
  cmd->add_option("--count", o.count,
                  "toyscenes: images per domain (default 1000); idx: the first N images (rotated/colored: the first N "
                  "shuffled positions, so each environment is a prefix of DomainBed's)");
  cmd->add_option("--thing-rarity", o.thing_rarity, "toyscenes: multiplier on the frequency of thing classes")
      ->default_val(1.0);
  cmd->add_option("--domains", o.domains,
                  "idx: none | rotated (DomainBed RotatedMNIST) | colored (DomainBed ColoredMNIST) | mnistm")
      ->default_val("none");
  cmd->add_option("--photo", o.photo, "idx --domains mnistm: colour photograph (PNG/JPEG) to blend with");
  cmd->add_option("--layout", o.layout,
                  "imagefolder: auto | domains (<domain>/<class>/) | office31 (<domain>/images/<class>/) | visda2017")
      ->default_val("auto");
  cmd->add_option("--exclude", o.exclude,
                  "imagefolder: file of image paths relative to --src to leave out (e.g. DomainBed's "
                  "misc/domain_net_duplicates.txt)");
  cmd->add_flag("--quiet", quiet, "No progress bar");
  cmd->callback([] {
    o.progress = !quiet;
    for (const auto& dir : data::convert(o)) spdlog::info("dataset ready: {}", dir);
  });
}

}  // namespace uda::cli
