#include "data/shard_writer.h"

#include "core/fs.h"
#include "data/hdf5_util.h"
#include "data/image_io.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace uda::data {

namespace {

// One image per dataset: contiguous for raw and PNG (so the reader can pread
// the bytes without holding the HDF5 lock), one chunk per image for deflate.
void write_image(hid_t group, const std::string& name, const Image& image, const ShardSpec& spec) {
  using h5::Id;
  if (image.pixels.size() != image.size()) throw std::logic_error("write_shard: image buffer size mismatch");
  std::vector<uint8_t> png;
  const uint8_t* bytes = image.pixels.data();
  std::vector<hsize_t> dims{static_cast<hsize_t>(image.height), static_cast<hsize_t>(image.width),
                            static_cast<hsize_t>(image.channels)};
  if (spec.encoding == Encoding::kPng) {
    png = encode_png(image, 1);
    bytes = png.data();
    dims = {png.size()};
  }
  Id space(h5::check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "space"), H5Sclose);
  Id dcpl = h5::create_plist(H5P_DATASET_CREATE);
  if (spec.encoding == Encoding::kDeflate) {
    h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), dims.data()), "chunk");
    h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(spec.deflate_level)), "deflate");
  } else {
    h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "layout");
    h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "alloc time");
  }
  Id ds(h5::check_id(H5Dcreate2(group, name.c_str(), H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                     "create image"),
        H5Dclose);
  h5::check(H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes), "write image");
}

void write_file(const std::string& path, const std::vector<ShardSample>& samples, const ShardSpec& spec) {
  using h5::Id;
  std::lock_guard<std::mutex> lock(h5::mutex());
  h5::silence_errors();
  Id file(h5::check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create shard"), H5Fclose);
  hid_t f = file.get();
  const size_t n = samples.size();
  h5::write_i64_attr(f, "format_version", kFormatVersion);
  h5::write_string_attr(f, "task", task_name(spec.task));
  h5::write_string_attr(f, "encoding", encoding_name(spec.encoding));
  h5::write_i64_attr(f, "first_index", spec.first_index);
  h5::write_i64_attr(f, "num_samples", static_cast<int64_t>(n));

  std::vector<std::string> names;
  std::vector<int32_t> domains, sizes, source_sizes;
  std::vector<int64_t> class_pixels, class_ids;
  for (const auto& s : samples) {
    names.push_back(s.sample.name);
    domains.push_back(s.sample.domain);
    sizes.insert(sizes.end(), {s.sample.image.height, s.sample.image.width, s.sample.image.channels});
    source_sizes.insert(source_sizes.end(), {s.source_height, s.source_width});
    if (s.class_pixels.size() != spec.num_classes) throw std::logic_error("write_shard: class_pixels size");
    class_pixels.insert(class_pixels.end(), s.class_pixels.begin(), s.class_pixels.end());
    class_ids.push_back(s.sample.class_label);
  }
  h5::write_strings(f, "names", names);
  h5::write_i32(f, "domains", domains, {n});
  h5::write_i32(f, "sizes", sizes, {n, 3});
  h5::write_i32(f, "source_sizes", source_sizes, {n, 2});
  h5::write_i64(f, "class_pixels", class_pixels, {n, spec.num_classes});
  if (spec.task == Task::kClassification) h5::write_i64(f, "class_ids", class_ids, {n});

  Id images(h5::check_id(H5Gcreate2(f, "images", H5P_DEFAULT, h5::create_plist(H5P_GROUP_CREATE).get(), H5P_DEFAULT), "images"), H5Gclose);
  Id labels;
  if (spec.task == Task::kSegmentation)
    labels = Id(h5::check_id(H5Gcreate2(f, "labels", H5P_DEFAULT, h5::create_plist(H5P_GROUP_CREATE).get(), H5P_DEFAULT), "labels"), H5Gclose);
  for (size_t i = 0; i < n; ++i) {
    std::string key = std::to_string(i);
    write_image(images.get(), key, samples[i].sample.image, spec);
    if (spec.task == Task::kSegmentation) {
      const Image& label = samples[i].sample.label;
      if (label.channels != 1 || label.height != samples[i].sample.image.height ||
          label.width != samples[i].sample.image.width)
        throw std::logic_error("write_shard: label must be HxWx1 with the image's size");
      write_image(labels.get(), key, label, spec);
    }
  }
  h5::check(H5Fflush(f, H5F_SCOPE_GLOBAL), "flush");
}

}  // namespace

void write_shard(const std::string& path, const std::vector<ShardSample>& samples, const ShardSpec& spec) {
  std::string tmp = path + ".tmp";
  try {
    write_file(tmp, samples, spec);
  } catch (const std::runtime_error& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error("writing shard " + path + " failed at: " + e.what());
  }
  fs_util::fsync_path(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("rename " + tmp + " failed");
  auto dir = std::filesystem::path(path).parent_path();
  fs_util::fsync_path(dir.empty() ? "." : dir.string());
}

}  // namespace uda::data
