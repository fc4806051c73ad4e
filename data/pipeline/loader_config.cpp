#include "data/pipeline/loader_config.h"

#include "core/error.h"
#include "core/schema.h"
#include "data/pipeline/basic_samplers.h"
#include "data/pipeline/class_balanced_sampler.h"
#include "data/pipeline/rare_class_sampler.h"
#include "data/pipeline/rng.h"

using nlohmann::json;

namespace uda::data::pipeline {

namespace {
using config::Type;
// DAFormer's img_norm_cfg (ImageNet statistics, RGB).
const json kMean = json::array({123.675, 116.28, 103.53});
const json kStd = json::array({58.395, 57.12, 57.375});

// The same transform keys for each stream, with per-stream defaults.
std::vector<config::KeySpec> stream_keys(const std::string& d, bool train) {
  const std::string p = "data." + d + ".";
  return {
      {p + "path", Type::String, nullptr, "Directory of a converted dataset (uda convert)."},
      {p + "img_scale", Type::Array, nullptr,
       "Resize target [long, short] as mmseg Resize(img_scale, keep_ratio=True), e.g. [1280, 720]; unset keeps the "
       "stored size."},
      {p + "scale_range", Type::Array, nullptr,
       "Random rescale: img_scale times r ~ U[lo, hi) (mmseg ratio_range), e.g. [0.5, 2.0]; unset: no random scale."},
      {p + "crop_size", Type::Array, train ? json::array({512, 512}) : json(nullptr),
       "Random crop and pad size [height, width]; null: whole image."},
      {p + "cat_max_ratio", Type::Number, train ? 0.75 : 1.0,
       "mmseg RandomCrop: retry (10x) crops where one class covers >= this share of valid pixels; 1 = off."},
      {p + "flip_prob", Type::Number, train ? 0.5 : 0.0, "Horizontal flip probability."},
      {p + "mean", Type::Array, kMean, "Per-channel (RGB) mean subtracted before dividing by std."},
      {p + "std", Type::Array, kStd, "Per-channel (RGB) standard deviation."},
      {p + "randaugment.n", Type::Int, 0, "RandAugment operations per sample (CSG); 0 = off."},
      {p + "channels", Type::Int, 0,
       "Image planes of the batches: 0 = the dataset's (manifest channels); 3 with a 1-channel set repeats the grey "
       "plane over RGB (MNIST as the source of MNIST-M, Ganin & Lempitsky 2015)."},
      {p + "randaugment.m", Type::Int, 10, "RandAugment magnitude in [0, 30] (CSG convention)."},
  };
}

struct Registrar {
  Registrar() {
    for (const auto& [d, train] : {std::pair<std::string, bool>{"source", true}, {"target", true}, {"val", false}})
      for (const auto& k : stream_keys(d, train)) config::Schema::global().declare(k);
  }
};
const Registrar kStreamKeys;

const config::KeyRegistrar kSamplerKeys({
    {"data.source.sampler", Type::String, "shuffle",
     "Source sampler: uniform|shuffle|rcs|class_balanced (rcs = DAFormer Rare Class Sampling).", false,
     {"uniform", "shuffle", "rcs", "class_balanced"}},
    {"data.target.sampler", Type::String, "shuffle",
     "Target sampler: uniform|shuffle|class_balanced (DAFormer with RCS draws targets uniformly).", false,
     {"uniform", "shuffle", "class_balanced"}},
    {"data.source.rcs.temperature", Type::Number, 0.01, "RCS temperature T of softmax((1 - f_c) / T)."},
    {"data.source.rcs.min_pixels", Type::Int, 3000, "RCS: images need more than this many pixels of the class."},
    {"data.source.rcs.min_crop_ratio", Type::Number, 0.5,
     "RCS: re-crop (up to 10x) until the crop holds > min_pixels * this of the class; 0 = off."},
    {"data.source.per_domain_batches", Type::Bool, false,
     "Domain generalization: one batch per source domain each step (multi-domain source set)."},
    {"data.prefetch", Type::Int, 2, "Steps each loader prepares ahead of training."},
    {"data.eval_batch", Type::Int, 1,
     "Evaluation samples per batch and rank. 1 lets every image keep its own size (segmentation validation); "
     "classification sets of one image size evaluate faster in larger batches (the DG configs use 256)."},
});

template <size_t N, class T>
std::array<T, N> array_of(const config::Config& cfg, const std::string& key) {
  const json& v = cfg.at(key);
  if (!v.is_array() || v.size() != N)
    throw UserError(key + " must be an array of " + std::to_string(N) + " numbers", cfg.origin(key),
                    "e.g. " + std::string(N == 2 ? "[512, 512]" : "[123.675, 116.28, 103.53]"));
  std::array<T, N> out{};
  for (size_t i = 0; i < N; ++i) {
    if (!v[i].is_number()) throw UserError(key + " must hold numbers", cfg.origin(key), "use plain numbers");
    out[i] = v[i].get<T>();
  }
  return out;
}

bool set(const config::Config& cfg, const std::string& key) { return cfg.has(key) && !cfg.at(key).is_null(); }

uint64_t stream_seed(const config::Config& cfg, const std::string& name, uint64_t purpose) {
  const auto seed = static_cast<uint64_t>(cfg.has("train.seed") ? cfg.get<int64_t>("train.seed") : 0);
  return derive_key(seed, name_key(name), purpose);
}

std::shared_ptr<Sampler> make_sampler(const config::Config& cfg, const std::string& domain, const std::string& name,
                                      std::vector<int64_t> pool, const ClassStats* stats) {
  if (domain == "val") return std::make_shared<SequentialSampler>(std::move(pool));
  const std::string kind = cfg.get<std::string>("data." + domain + ".sampler");
  const uint64_t seed = stream_seed(cfg, name, 1);
  auto need_stats = [&] {
    if (!stats || stats->per_image.empty())
      throw UserError("sampler '" + kind + "' needs the dataset's class statistics", "data." + domain + ".sampler",
                      "convert the dataset with uda convert (it writes class_stats.json)");
  };
  if (kind == "uniform") return std::make_shared<UniformSampler>(std::move(pool), seed);
  if (kind == "shuffle") return std::make_shared<ShuffleSampler>(std::move(pool), seed);
  if (kind == "rcs") {
    need_stats();
    auto table = RareClassTable::build(stats->per_image, cfg.get<double>("data.source.rcs.temperature"),
                                       cfg.get<int64_t>("data.source.rcs.min_pixels"));
    return std::make_shared<RareClassSampler>(std::move(table), seed);
  }
  // class_balanced: the class of each slot comes from a seed shared by every
  // stream, so all domains see the same class in the same slot.
  need_stats();
  auto classes = sample_classes(*stats);
  std::vector<std::vector<int64_t>> domain_pools;
  for (size_t d = 0; d < std::max<size_t>(stats->domain_names.size(), 1); ++d)
    domain_pools.push_back(stats->image_domain.empty() ? all_indices(static_cast<int64_t>(classes.size()))
                                                       : indices_of_domain(stats->image_domain, static_cast<int>(d)));
  // Classes present in every domain, so that per-domain loaders agree on the set.
  auto shared = shared_classes(classes, domain_pools);
  return std::make_shared<ClassBalancedSampler>(classes, pool, shared, stream_seed(cfg, "class_balanced", 3), seed);
}

std::unique_ptr<Loader> build(const config::Config& cfg, const std::string& domain, const std::string& name,
                              std::shared_ptr<const SampleSource> source, std::vector<int64_t> pool,
                              const ClassStats* stats, int rank, int world, Allocator allocator) {
  LoaderOptions o;
  o.name = name;
  o.seed = stream_seed(cfg, name, 2);
  o.rank = rank;
  o.world = world;
  o.batch = static_cast<int>(cfg.get<int64_t>(domain == "val" ? "data.eval_batch" : "data.batch_per_rank"));
  if (o.batch < 1)
    throw UserError(std::string(domain == "val" ? "data.eval_batch" : "data.batch_per_rank") + " must be >= 1",
                    cfg.origin(domain == "val" ? "data.eval_batch" : "data.batch_per_rank"), "use a positive count");
  o.threads = std::max<int>(1, static_cast<int>(cfg.get<int64_t>("data.workers")));
  o.prefetch = std::max<int>(1, static_cast<int>(cfg.get<int64_t>("data.prefetch")));
  if (domain == "source") {
    o.rcs_min_pixels = cfg.get<int64_t>("data.source.rcs.min_pixels");
    o.rcs_min_crop_ratio = cfg.get<double>("data.source.rcs.min_crop_ratio");
  }
  o.allocator = std::move(allocator);
  const std::string channels_key = "data." + domain + ".channels";
  o.channels = static_cast<int>(cfg.get<int64_t>(channels_key));
  if (o.channels != 0 && o.channels != source->channels() && (source->channels() != 1 || o.channels != 3))
    throw UserError(channels_key + " is " + std::to_string(o.channels) + " but the dataset's images have " +
                        std::to_string(source->channels()) + " channel(s)",
                    cfg.origin(channels_key).empty() ? channels_key : cfg.origin(channels_key),
                    "use 0 (the dataset's planes), or 3 to repeat a grey set over RGB");
  auto sampler = make_sampler(cfg, domain, name, std::move(pool), stats);
  return std::make_unique<Loader>(std::move(source), std::move(sampler), transform_config(cfg, domain), o);
}

}  // namespace

TransformConfig transform_config(const config::Config& cfg, const std::string& d) {
  const std::string p = "data." + d + ".";
  TransformConfig t;
  if (set(cfg, p + "img_scale")) t.img_scale = array_of<2, int>(cfg, p + "img_scale");
  if (set(cfg, p + "scale_range")) t.ratio_range = array_of<2, double>(cfg, p + "scale_range");
  if (set(cfg, p + "crop_size")) t.crop_size = array_of<2, int>(cfg, p + "crop_size");
  t.cat_max_ratio = cfg.get<double>(p + "cat_max_ratio");
  t.flip_prob = cfg.get<double>(p + "flip_prob");
  t.mean = array_of<3, double>(cfg, p + "mean");
  t.std = array_of<3, double>(cfg, p + "std");
  t.randaug_n = static_cast<int>(cfg.get<int64_t>(p + "randaugment.n"));
  t.randaug_m = static_cast<int>(cfg.get<int64_t>(p + "randaugment.m"));
  if (t.randaug_m < 0 || t.randaug_m > 30)
    throw UserError(p + "randaugment.m must be in [0, 30]", cfg.origin(p + "randaugment.m"), "CSG uses 0..30");
  for (double s : t.std)
    if (s == 0) throw UserError(p + "std has a zero entry", cfg.origin(p + "std"), "use the dataset's std");
  t.resize_label = d != "val";  // evaluation compares at the label's full resolution
  return t;
}

std::unique_ptr<Loader> make_loader(const config::Config& cfg, const std::string& domain,
                                    std::shared_ptr<const SampleSource> source, const ClassStats* stats, int rank,
                                    int world, Allocator allocator) {
  if (domain != "source" && domain != "target" && domain != "val")
    throw std::invalid_argument("make_loader: unknown stream " + domain);
  auto pool = all_indices(static_cast<int64_t>(source->size()));
  return build(cfg, domain, domain, std::move(source), std::move(pool), stats, rank, world, std::move(allocator));
}

std::vector<std::unique_ptr<Loader>> make_domain_loaders(const config::Config& cfg,
                                                         std::shared_ptr<const SampleSource> source,
                                                         const ClassStats& stats, const DomainSplit& split, int rank,
                                                         int world, Allocator allocator) {
  std::vector<std::unique_ptr<Loader>> out;
  for (int d : split.training_domains())
    out.push_back(build(cfg, "source", "source/" + split.names[static_cast<size_t>(d)], source,
                        split.in[static_cast<size_t>(d)], &stats, rank, world, allocator));
  return out;
}

std::unique_ptr<Loader> make_eval_loader(const config::Config& cfg, const std::string& name,
                                         std::shared_ptr<const SampleSource> source, std::vector<int64_t> pool,
                                         int rank, int world) {
  return build(cfg, "val", name, std::move(source), std::move(pool), nullptr, rank, world, {});
}

}  // namespace uda::data::pipeline
