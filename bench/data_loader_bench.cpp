// Data pipeline throughput: DAFormer's GTA training crops (512x512 from
// 1280x720 stored images: RandomCrop with cat_max_ratio 0.75, flip 0.5,
// Normalize, Pad) through the prefetching loader, with 1 and 2 threads,
// next to memcpy bandwidth as the physical limit.
//
//   data_loader_bench --write DIR --images N   writes DIR/shard-00000.h5
//   data_loader_bench --read DIR [--steps S] [--threads 1,2]   prints JSON lines
//
// The shard uses the dataset layout of docs/FORMATS.md for raw encoding
// (/images/<i> and /labels/<i>, one contiguous uint8 HxWxC dataset per
// sample), written and read with the HDF5 C API so that the benchmark does
// not depend on the converter. Reads go through pread at each dataset's
// file offset, as the dataset reader does, so threads do not serialise on
// the HDF5 library lock.
#include "data/pipeline/basic_samplers.h"
#include "data/pipeline/loader.h"
#include "data/pipeline/malloc_tuning.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace dp = uda::data::pipeline;
using uda::data::Image;
using uda::data::Sample;

namespace {

constexpr int kH = 720, kW = 1280;

void write_u8(hid_t group, const std::string& name, const uint8_t* data, std::vector<hsize_t> dims) {
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  hid_t ds = H5Dcreate2(group, name.c_str(), H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) throw std::runtime_error("cannot create " + name);
  H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
}

// Street-scene-like synthetic content: smooth gradients, texture noise and
// label regions (sky, buildings, road, small objects), so PNG sizes and
// class layouts are plausible for the Python peer.
void synth(int i, std::vector<uint8_t>& img, std::vector<uint8_t>& lab) {
  img.resize(size_t{kH} * kW * 3);
  lab.resize(size_t{kH} * kW);
  uint32_t s = 2166136261u ^ static_cast<uint32_t>(i * 16777619);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) {
      s = s * 1664525u + 1013904223u;
      const int noise = static_cast<int>((s >> 24) & 15);
      uint8_t cls = y < kH / 3 ? 10 : (y < kH / 2 ? 2 : 0);   // sky, building, road
      if (y >= kH / 2 && x < kW / 6) cls = 1;                  // sidewalk
      if (((x / 40 + y / 40 + i) % 23) == 0) cls = 13;         // cars
      if (x % 200 == (i * 7) % 200 && y > kH / 4) cls = 5;     // poles
      lab[size_t{1} * y * kW + x] = cls;
      uint8_t* p = &img[(size_t{1} * y * kW + x) * 3];
      p[0] = static_cast<uint8_t>((cls * 20 + x / 8 + noise) & 255);
      p[1] = static_cast<uint8_t>((cls * 35 + y / 6 + noise) & 255);
      p[2] = static_cast<uint8_t>((cls * 50 + (x + y) / 10 + noise) & 255);
    }
}

void write_shard(const std::string& dir, int n) {
  const std::string path = dir + "/shard-00000.h5";
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) throw std::runtime_error("cannot create " + path);
  hid_t gi = H5Gcreate2(f, "images", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t gl = H5Gcreate2(f, "labels", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<uint8_t> img, lab;
  for (int i = 0; i < n; ++i) {
    synth(i, img, lab);
    write_u8(gi, std::to_string(i), img.data(), {kH, kW, 3});
    write_u8(gl, std::to_string(i), lab.data(), {kH, kW, 1});
  }
  H5Gclose(gi);
  H5Gclose(gl);
  H5Fclose(f);
}

// Raw-encoded shard reader: dataset offsets found once, pixels by pread.
class RawShardSource : public uda::data::SampleSource {
 public:
  explicit RawShardSource(const std::string& dir) {
    path_ = dir + "/shard-00000.h5";
    hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) throw std::runtime_error("cannot open " + path_);
    for (int i = 0;; ++i) {
      const std::string k = std::to_string(i);
      if (H5Lexists(f, ("images/" + k).c_str(), H5P_DEFAULT) <= 0) break;
      img_off_.push_back(offset(f, "images/" + k));
      lab_off_.push_back(offset(f, "labels/" + k));
    }
    H5Fclose(f);
    fd_ = ::open(path_.c_str(), O_RDONLY);
  }
  ~RawShardSource() override { ::close(fd_); }
  size_t size() const override { return img_off_.size(); }
  Sample read(size_t i) const override {
    Sample s;
    s.index = static_cast<int64_t>(i);
    s.name = std::to_string(i);
    s.image = {kH, kW, 3, std::vector<uint8_t>(size_t{kH} * kW * 3)};
    s.label = {kH, kW, 1, std::vector<uint8_t>(size_t{kH} * kW)};
    pread_all(s.image.pixels.data(), s.image.pixels.size(), img_off_[i]);
    pread_all(s.label.pixels.data(), s.label.pixels.size(), lab_off_[i]);
    return s;
  }

 private:
  static haddr_t offset(hid_t f, const std::string& key) {
    hid_t ds = H5Dopen2(f, key.c_str(), H5P_DEFAULT);
    haddr_t a = H5Dget_offset(ds);
    H5Dclose(ds);
    return a;
  }
  void pread_all(uint8_t* dst, size_t n, haddr_t off) const {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(off + done));
      if (r <= 0) throw std::runtime_error("short read in " + path_);
      done += static_cast<size_t>(r);
    }
  }
  std::string path_;
  std::vector<haddr_t> img_off_, lab_off_;
  int fd_ = -1;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double memcpy_gbps() {
  const size_t n = size_t{256} << 20;
  std::vector<uint8_t> a(n, 1), b(n, 0);
  std::memcpy(b.data(), a.data(), n);  // fault pages in
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double t0 = now();
    std::memcpy(b.data(), a.data(), n);
    const double dt = now() - t0;
    best = std::max(best, n / dt / 1e9);
  }
  if (b[n / 2] != 1) std::printf("?");
  return best;
}

void run_loader(const std::string& dir, int threads, int steps, bool tuned) {
  auto src = std::make_shared<RawShardSource>(dir);
  dp::LoaderOptions o;
  o.name = "source";
  o.threads = threads;
  o.batch = 2;  // DAFormer: 2 source images per GPU
  o.prefetch = 4;
  dp::Loader loader(src, std::make_shared<dp::ShuffleSampler>(dp::all_indices(static_cast<int64_t>(src->size())), 1),
                    dp::TransformConfig::daformer_gta_train(), o);
  loader.next();  // warm-up: threads started, first pages cached
  const double t0 = now();
  int images = 0;
  double checksum = 0;
  for (int s = 0; s < steps; ++s) {
    auto b = loader.next();
    images += b->size;
    checksum += b->images.get()[12345];
  }
  const double dt = now() - t0;
  std::printf("{\"impl\": \"cpp_hdf5_raw%s\", \"threads\": %d, \"images\": %d, \"seconds\": %.4f, "
              "\"images_per_s\": %.2f, \"images_per_s_per_core\": %.2f, \"checksum\": %.3f}\n",
              tuned ? "" : "_untuned", threads, images, dt, images / dt, images / dt / threads, checksum);
}

}  // namespace

int main(int argc, char** argv) {
  std::string write_dir, read_dir;
  bool tune = true;
  int n = 64, steps = 100;
  std::vector<int> threads{1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--no-malloc-tuning") tune = false;
    else if (a == "--write") write_dir = val();
    else if (a == "--read") read_dir = val();
    else if (a == "--images") n = std::stoi(val());
    else if (a == "--steps") steps = std::stoi(val());
    else if (a == "--threads") {
      threads.clear();
      std::string v = val();
      for (size_t p = 0; p < v.size();) {
        size_t q = v.find(',', p);
        threads.push_back(std::stoi(v.substr(p, q - p)));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: %s --write DIR [--images N] | --read DIR [--steps S] [--threads 1,2] [--no-malloc-tuning]\n", argv[0]);
      return 2;
    }
  }
  if (tune) dp::keep_large_buffers_in_heap();  // as the worker does (data/pipeline/malloc_tuning.h)
  if (!write_dir.empty()) write_shard(write_dir, n);
  if (!read_dir.empty()) {
    const double bw = memcpy_gbps();
    // Bytes a training crop must at least be written as: float CHW image + uint8 label.
    const double out_bytes = 512.0 * 512 * 3 * 4 + 512.0 * 512;
    std::printf("{\"impl\": \"memcpy\", \"threads\": 1, \"gbytes_per_s\": %.2f, \"images_per_s\": %.1f, "
                "\"images_per_s_per_core\": %.1f}\n",
                bw, bw * 1e9 / out_bytes, bw * 1e9 / out_bytes);
    for (int t : threads) run_loader(read_dir, t, steps, tune);
  }
  return 0;
}
