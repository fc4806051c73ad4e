#include "data/class_stats_io.h"

#include "core/error.h"
#include "core/fs.h"

#include <filesystem>

namespace uda::data {

using nlohmann::json;

json class_stats_to_json(const ClassStats& stats) {
  stats.check_consistent();
  return json{{"classes", stats.class_names},
              {"domains", stats.domain_names},
              {"image_names", stats.image_names},
              {"image_domain", stats.image_domain},
              {"per_image", stats.per_image}};
}

ClassStats class_stats_from_json(const json& j, const std::string& where) {
  ClassStats s;
  try {
    s.class_names = j.at("classes").get<std::vector<std::string>>();
    s.domain_names = j.at("domains").get<std::vector<std::string>>();
    s.image_names = j.value("image_names", std::vector<std::string>{});
    s.image_domain = j.at("image_domain").get<std::vector<int>>();
    s.per_image = j.at("per_image").get<std::vector<std::vector<int64_t>>>();
    s.check_consistent();
  } catch (const std::exception& e) {
    throw UserError(std::string("malformed class statistics: ") + e.what(), where,
                    "re-run `uda convert` for this dataset to rewrite its statistics");
  }
  return s;
}

void save_class_stats(const ClassStats& stats, const std::string& path) {
  fs_util::write_file_atomic(path, class_stats_to_json(stats).dump() + "\n");
}

ClassStats load_class_stats(const std::string& path) {
  json j;
  try {
    j = json::parse(fs_util::read_file(path));
  } catch (const json::exception& e) {
    throw UserError(std::string("class statistics are not valid JSON: ") + e.what(), path,
                    "re-run `uda convert` for this dataset");
  }
  return class_stats_from_json(j, path);
}

namespace {
std::string image_name(const ClassStats& s, size_t i) {
  return i < s.image_names.size() ? s.image_names[i] : std::to_string(i);
}
}  // namespace

json to_daformer_sample_class_stats(const ClassStats& stats) {
  json list = json::array();
  for (size_t i = 0; i < stats.num_images(); ++i) {
    json entry = json::object();
    for (size_t c = 0; c < stats.num_classes(); ++c)
      if (stats.per_image[i][c] > 0) entry[std::to_string(c)] = stats.per_image[i][c];
    entry["file"] = image_name(stats, i);
    list.push_back(std::move(entry));
  }
  return list;
}

json to_daformer_samples_with_class(const ClassStats& stats) {
  // DAFormer keys the classes in order of first appearance while scanning
  // the images; nlohmann's default object sorts keys, which JSON readers
  // (and DAFormer's uda_dataset.py) do not care about.
  json out = json::object();
  for (size_t i = 0; i < stats.num_images(); ++i)
    for (size_t c = 0; c < stats.num_classes(); ++c)
      if (stats.per_image[i][c] > 0) out[std::to_string(c)].push_back(json::array({image_name(stats, i), stats.per_image[i][c]}));
  return out;
}

ClassStats from_daformer_sample_class_stats(const json& j, const std::vector<std::string>& class_names,
                                            const std::string& where) {
  const std::string fix = "expected DAFormer's sample_class_stats.json: a list of {\"<class id>\": pixels, \"file\": name}";
  if (!j.is_array()) throw UserError("not a list of per-image statistics", where, fix);
  ClassStats s;
  s.class_names = class_names;
  s.domain_names = {"default"};
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& entry = j[i];
    if (!entry.is_object()) throw UserError("entry " + std::to_string(i) + " is not an object", where, fix);
    std::vector<int64_t> row(class_names.size(), 0);
    std::string name = std::to_string(i);
    for (const auto& [key, value] : entry.items()) {
      if (key == "file") {
        name = value.get<std::string>();
        continue;
      }
      size_t pos = 0;
      long id = -1;
      try {
        id = std::stol(key, &pos);
      } catch (const std::exception&) {
      }
      if (pos != key.size() || id < 0 || static_cast<size_t>(id) >= class_names.size() || !value.is_number_integer())
        throw UserError("entry " + std::to_string(i) + " has an invalid class key \"" + key + "\"", where,
                        "class keys must be integer train ids below " + std::to_string(class_names.size()));
      row[static_cast<size_t>(id)] = value.get<int64_t>();
    }
    s.per_image.push_back(std::move(row));
    s.image_names.push_back(std::move(name));
    s.image_domain.push_back(0);
  }
  return s;
}

void export_daformer_stats(const ClassStats& stats, const std::string& dir) {
  std::filesystem::create_directories(dir);
  fs_util::write_file_atomic(dir + "/sample_class_stats.json", to_daformer_sample_class_stats(stats).dump(2) + "\n");
  fs_util::write_file_atomic(dir + "/samples_with_class.json", to_daformer_samples_with_class(stats).dump(2) + "\n");
}

}  // namespace uda::data
