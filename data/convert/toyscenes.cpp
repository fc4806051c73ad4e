// toyscenes: a generated street-scene domain pair for demos and tests. One
// scene grammar (sky, road with a vanishing point, sidewalks, buildings,
// trees, and rare small things: poles, cars, persons), rendered twice:
//   source  flat-shaded, saturated "synthetic" palette, uniform light;
//   target  another palette, procedural texture (windows, foliage, asphalt
//           grain), a random global illumination and colour cast, a vertical
//           light gradient and sensor noise.
// Labels are Cityscapes train ids, so every 19-class tool applies; classes
// the grammar has no rule for never occur. Every image is a pure function of
// (seed, domain, index): the result does not depend on --jobs.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/label_maps.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>

namespace uda::data {

namespace {

enum TrainId : uint8_t {
  kRoad = 0, kSidewalk = 1, kBuilding = 2, kPole = 5, kVegetation = 8, kSky = 10, kPerson = 11, kCar = 13
};

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A small counter-based generator: portable, so scenes are identical on
// every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t key) : state_(splitmix(key)) {}
  uint64_t next() { return state_ = splitmix(state_); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int integer(int a, int b) { return a + static_cast<int>(uniform() * (b - a + 1)); }  // [a, b]
  bool chance(double p) { return uniform() < p; }
  // Approximately standard normal from one draw (Irwin-Hall sum of four
  // 16-bit uniforms): per-pixel sensor noise needs speed, not exact tails.
  double fast_normal() {
    uint64_t r = next();
    double sum = double(r & 0xffff) + double((r >> 16) & 0xffff) + double((r >> 32) & 0xffff) + double(r >> 48);
    return (sum / 65536.0 - 2.0) * 1.7320508075688772;
  }
  double normal() {
    double u1 = std::max(uniform(), 1e-12), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

uint64_t key(uint64_t seed, uint64_t domain, uint64_t index, uint64_t stream) {
  return splitmix(splitmix(splitmix(seed) ^ (domain * 0x100000001b3ULL)) ^ index) ^ (stream << 56);
}

struct Scene {
  int w, h;
  std::vector<uint8_t> label;
  // Per-pixel instance tint (cars and persons get their own colour).
  std::vector<std::array<uint8_t, 3>> tint;
  uint8_t& at(int x, int y) { return label[static_cast<size_t>(y) * w + x]; }
};

void fill_rect(Scene& s, int x0, int y0, int x1, int y1, uint8_t cls, std::array<uint8_t, 3> tint = {0, 0, 0}) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0), x1 = std::min(x1, s.w), y1 = std::min(y1, s.h);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      s.at(x, y) = cls;
      s.tint[static_cast<size_t>(y) * s.w + x] = tint;
    }
}

Scene layout(int w, int h, double thing_rarity, Rng& rng) {
  Scene s{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h, kSky), std::vector<std::array<uint8_t, 3>>(static_cast<size_t>(w) * h)};
  const int horizon = static_cast<int>(h * rng.uniform(0.35, 0.5));
  const double vx = w * rng.uniform(0.4, 0.6);
  const double xl = w * rng.uniform(0.05, 0.3), xr = w * rng.uniform(0.7, 0.95);
  auto road_edges = [&](int y, double* l, double* r) {
    double t = static_cast<double>(y - horizon) / std::max(1, h - horizon);
    *l = vx + (xl - vx) * t;
    *r = vx + (xr - vx) * t;
  };
  // Ground: road inside the trapezoid, sidewalk outside.
  for (int y = horizon; y < h; ++y) {
    double l, r;
    road_edges(y, &l, &r);
    for (int x = 0; x < w; ++x) s.at(x, y) = (x >= l && x < r) ? kRoad : kSidewalk;
  }
  // Facades on both sides: columns of buildings, reaching a little below the
  // horizon where they meet the sidewalk, with gaps of sky.
  for (int side = 0; side < 2; ++side) {
    int x = side == 0 ? 0 : static_cast<int>(vx + w * 0.08);
    int end = side == 0 ? static_cast<int>(vx - w * 0.08) : w;
    while (x < end) {
      int bw = rng.integer(w / 12 + 1, w / 4 + 1);
      if (rng.chance(0.8)) {
        int top = horizon - static_cast<int>(h * rng.uniform(0.1, 0.4));
        int bottom = horizon + static_cast<int>(h * 0.04);
        for (int y = std::max(top, 0); y < std::min(bottom, h); ++y)
          for (int xx = x; xx < std::min(x + bw, end); ++xx)
            if (s.at(xx, y) != kRoad) s.at(xx, y) = kBuilding;
      }
      x += bw;
    }
  }
  // Trees: discs near the horizon on the sidewalk side.
  int trees = rng.integer(1, 4);
  for (int t = 0; t < trees; ++t) {
    double cx = rng.chance(0.5) ? rng.uniform(0, vx - w * 0.1) : rng.uniform(vx + w * 0.1, w);
    double cy = horizon - h * rng.uniform(0.0, 0.12);
    double rad = h * rng.uniform(0.05, 0.13);
    for (int y = std::max(0, static_cast<int>(cy - rad)); y < std::min(h, static_cast<int>(cy + rad) + 1); ++y)
      for (int x = std::max(0, static_cast<int>(cx - rad)); x < std::min(w, static_cast<int>(cx + rad) + 1); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad && s.at(x, y) != kRoad) s.at(x, y) = kVegetation;
  }
  auto clamp01 = [](double p) { return std::min(1.0, std::max(0.0, p)); };
  // Poles: thin, tall, on the sidewalk.
  if (rng.chance(clamp01(0.5 * thing_rarity))) {
    int n = rng.integer(1, 2);
    for (int i = 0; i < n; ++i) {
      int y_base = rng.integer(horizon + (h - horizon) / 3, h - 1);
      double l, r;
      road_edges(y_base, &l, &r);
      int x = rng.chance(0.5) ? static_cast<int>(l) - rng.integer(2, 6) : static_cast<int>(r) + rng.integer(2, 6);
      double scale = static_cast<double>(y_base - horizon) / std::max(1, h - horizon);
      int height = static_cast<int>(h * (0.25 + 0.35 * scale));
      int width = std::max(1, static_cast<int>(w * 0.012 * (0.5 + scale)));
      fill_rect(s, x, y_base - height, x + width, y_base, kPole);
    }
  }
  // Cars: on the road, bigger when nearer.
  if (rng.chance(clamp01(0.5 * thing_rarity))) {
    int n = rng.integer(1, 3);
    for (int i = 0; i < n; ++i) {
      int y_base = rng.integer(horizon + 2, h - 1);
      double l, r;
      road_edges(y_base, &l, &r);
      double scale = static_cast<double>(y_base - horizon) / std::max(1, h - horizon);
      int cw = std::max(3, static_cast<int>((r - l) * rng.uniform(0.2, 0.35)));
      int ch = std::max(2, static_cast<int>(cw * rng.uniform(0.45, 0.6)));
      int x = static_cast<int>(rng.uniform(l, std::max(l + 1, r - cw)));
      std::array<uint8_t, 3> tint{static_cast<uint8_t>(rng.integer(0, 255)), static_cast<uint8_t>(rng.integer(0, 255)),
                                  static_cast<uint8_t>(rng.integer(0, 255))};
      (void)scale;
      fill_rect(s, x, y_base - ch, x + cw, y_base, kCar, tint);
    }
  }
  // Persons: small and rare, on the sidewalk.
  if (rng.chance(clamp01(0.3 * thing_rarity))) {
    int n = rng.integer(1, 3);
    for (int i = 0; i < n; ++i) {
      int y_base = rng.integer(horizon + 3, h - 1);
      double l, r;
      road_edges(y_base, &l, &r);
      double scale = static_cast<double>(y_base - horizon) / std::max(1, h - horizon);
      int ph = std::max(4, static_cast<int>(h * (0.08 + 0.15 * scale)));
      int pw = std::max(2, ph / 3);
      int x = rng.chance(0.5) ? static_cast<int>(rng.uniform(0, std::max(1.0, l - pw)))
                              : static_cast<int>(rng.uniform(std::min(r, w - 1.0), w - 1.0));
      std::array<uint8_t, 3> tint{static_cast<uint8_t>(rng.integer(0, 255)), static_cast<uint8_t>(rng.integer(0, 255)),
                                  static_cast<uint8_t>(rng.integer(0, 255))};
      fill_rect(s, x, y_base - ph, x + pw, y_base, kPerson, tint);
    }
  }
  return s;
}

struct Rgb {
  double r, g, b;
};

// Base colours per train id; thing classes mix in the instance tint.
Rgb source_colour(uint8_t c) {
  switch (c) {
    case kRoad: return {128, 64, 128};
    case kSidewalk: return {232, 35, 244};
    case kBuilding: return {70, 70, 70};
    case kPole: return {153, 153, 153};
    case kVegetation: return {107, 142, 35};
    case kSky: return {70, 130, 180};
    case kPerson: return {220, 20, 60};
    case kCar: return {0, 0, 142};
  }
  return {0, 0, 0};
}

Rgb target_colour(uint8_t c) {
  switch (c) {
    case kRoad: return {95, 95, 100};
    case kSidewalk: return {165, 150, 135};
    case kBuilding: return {150, 110, 85};
    case kPole: return {60, 60, 55};
    case kVegetation: return {55, 105, 45};
    case kSky: return {200, 215, 235};
    case kPerson: return {120, 70, 50};
    case kCar: return {140, 140, 150};
  }
  return {0, 0, 0};
}

double hash01(uint64_t a, int x, int y) {
  return static_cast<double>(splitmix(a ^ (static_cast<uint64_t>(x) << 20) ^ static_cast<uint64_t>(y)) >> 11) *
         0x1.0p-53;
}

uint8_t clamp8(double v) { return static_cast<uint8_t>(std::lround(std::min(255.0, std::max(0.0, v)))); }

Image render(const Scene& s, bool target, Rng& rng) {
  Image img;
  img.height = s.h;
  img.width = s.w;
  img.channels = 3;
  img.pixels.resize(img.size());
  const uint64_t tex = rng.next();
  // Per-image jitter of the palette, small in the source, larger in the target.
  double jitter = target ? 18 : 6;
  std::array<Rgb, 256> palette{};
  for (int c = 0; c < 19; ++c) {
    Rgb base = target ? target_colour(static_cast<uint8_t>(c)) : source_colour(static_cast<uint8_t>(c));
    palette[c] = {base.r + rng.normal() * jitter, base.g + rng.normal() * jitter, base.b + rng.normal() * jitter};
  }
  // Target lighting: global gain, colour cast and a vertical gradient.
  double gain = target ? rng.uniform(0.55, 1.15) : 1.0;
  Rgb cast = target ? Rgb{rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1), rng.uniform(0.8, 1.2)} : Rgb{1, 1, 1};
  double gradient = target ? rng.uniform(-0.35, 0.35) : 0.0;
  double noise_sigma = target ? 9.0 : 1.5;
  for (int y = 0; y < s.h; ++y) {
    double light = gain * (1.0 + gradient * (static_cast<double>(y) / s.h - 0.5));
    for (int x = 0; x < s.w; ++x) {
      size_t p = static_cast<size_t>(y) * s.w + x;
      uint8_t c = s.label[p];
      Rgb col = palette[c];
      if (c == kCar || c == kPerson) {
        const auto& t = s.tint[p];
        double mix = target ? 0.35 : 0.5;
        col = {col.r * (1 - mix) + t[0] * mix, col.g * (1 - mix) + t[1] * mix, col.b * (1 - mix) + t[2] * mix};
      }
      double shade = 1.0;
      if (target) {
        // Procedural textures: windows on facades, foliage grain, asphalt
        // grain, brick-like sidewalk tiles, clouds.
        double coarse = hash01(tex, x / 4, y / 4), fine = hash01(tex + 1, x, y);
        switch (c) {
          case kBuilding: shade = ((x / 3) % 3 == 0 || (y / 4) % 3 == 0) ? 1.15 : 0.6 + 0.2 * coarse; break;
          case kVegetation: shade = 0.6 + 0.8 * fine * coarse; break;
          case kRoad: shade = 0.85 + 0.3 * fine; break;
          case kSidewalk: shade = ((x + (y / 3) * 2) % 6 == 0 || y % 3 == 0) ? 0.8 : 1.0; break;
          case kSky: shade = 0.9 + 0.2 * coarse; break;
          default: shade = 0.8 + 0.4 * coarse;
        }
      }
      double f = light * shade;
      uint8_t* out = &img.pixels[p * 3];
      out[0] = clamp8(col.r * f * cast.r + rng.fast_normal() * noise_sigma);
      out[1] = clamp8(col.g * f * cast.g + rng.fast_normal() * noise_sigma);
      out[2] = clamp8(col.b * f * cast.b + rng.fast_normal() * noise_sigma);
    }
  }
  return img;
}

ConversionPlan toy_plan(const std::string& role, int domain_id, bool target, size_t count, int w, int h,
                        double rarity, uint64_t seed, const nlohmann::json& provenance) {
  ConversionPlan plan;
  plan.task = Task::kSegmentation;
  plan.class_names = cityscapes_class_names();
  plan.domain_names = {target ? "toyscenes-real" : "toyscenes-synthetic"};
  plan.split = role == "target_val" ? "val" : "train";
  plan.num_items = count;
  plan.produce = [=](size_t i) {
    Rng rng(key(seed, static_cast<uint64_t>(domain_id), i, 0));
    Scene scene = layout(w, h, rarity, rng);
    ShardSample out;
    out.sample.name = role + "_" + std::to_string(i);
    out.sample.image = render(scene, target, rng);
    out.sample.label.height = h;
    out.sample.label.width = w;
    out.sample.label.channels = 1;
    out.sample.label.pixels = scene.label;
    out.class_pixels.assign(19, 0);
    for (uint8_t c : scene.label) ++out.class_pixels[c];
    out.source_height = h;
    out.source_width = w;
    return out;
  };
  plan.provenance = provenance;
  plan.provenance["role"] = role;
  return plan;
}

}  // namespace

std::vector<std::pair<std::string, ConversionPlan>> plans_toyscenes(const ConvertOptions& o) {
  auto [w, h] = parse_size(o.size.empty() ? "128x96" : o.size, "--size");
  if (w < 16 || h < 16) throw UserError("toyscenes images must be at least 16x16", "--size", "e.g. --size 128x96");
  if (o.thing_rarity < 0) throw UserError("--thing-rarity must be >= 0", "--thing-rarity", "1 is the default rate");
  size_t count = o.count < 0 ? 1000 : static_cast<size_t>(o.count);
  size_t val_count = std::max<size_t>(1, count / 5);
  nlohmann::json provenance{{"converter", "toyscenes"},
                            {"options", {{"size", std::to_string(w) + "x" + std::to_string(h)},
                                         {"count", count},
                                         {"val_count", val_count},
                                         {"thing_rarity", o.thing_rarity},
                                         {"seed", o.seed}}}};
  return {{"source", toy_plan("source", 0, false, count, w, h, o.thing_rarity, o.seed, provenance)},
          {"target", toy_plan("target", 1, true, count, w, h, o.thing_rarity, o.seed, provenance)},
          {"target_val", toy_plan("target_val", 2, true, val_count, w, h, o.thing_rarity, o.seed, provenance)}};
}

}  // namespace uda::data
