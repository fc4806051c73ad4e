#include "data/convert/image_folder_index.h"

#include "core/error.h"
#include "core/fs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>
#include <utility>

namespace uda::data {

namespace fs = std::filesystem;

namespace {

// Sorted names of the directories directly under `dir` (DomainBed:
// sorted(f.name for f in os.scandir(root) if f.is_dir()); torchvision's
// find_classes likewise). Symbolic links to directories count.
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext;
}

// Files of one class folder in torchvision's make_dataset order: for root,
// _, fnames in sorted(os.walk(dir, followlinks=True)): for f in
// sorted(fnames), keeping IMG_EXTENSIONS. We decode PNG and JPEG; another
// image type torchvision would read is refused rather than silently left out.
std::vector<std::string> class_images(const std::string& dir) {
  static const std::set<std::string> kDecoded{".png", ".jpg", ".jpeg"};
  static const std::set<std::string> kOtherImages{".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  std::vector<std::pair<std::string, std::string>> files;  // (folder, file name)
  for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = lower_extension(e.path());
    if (kOtherImages.count(ext))
      throw UserError("unsupported image format " + ext + " (PNG and JPEG are read)", e.path().string(),
                      "convert the image to PNG, or remove it");
    if (kDecoded.count(ext)) files.emplace_back(e.path().parent_path().string(), e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : files) paths.push_back(folder + "/" + name);
  return paths;
}

// DomainBed builds one ImageFolder per domain, each numbering its own sorted
// class folders: a folder missing in one domain would shift that domain's
// class ids. Refuse it instead.
void require_every_class(const FolderIndex& index, const std::vector<std::vector<std::string>>& per_domain,
                         const std::vector<std::string>& class_roots) {
  for (size_t d = 0; d < index.domains.size(); ++d)
    for (const auto& c : index.classes)
      if (!std::binary_search(per_domain[d].begin(), per_domain[d].end(), c))
        throw UserError("class folder \"" + c + "\" missing in domain \"" + index.domains[d] + "\" (other domains have it)",
                        class_roots[d] + "/" + c,
                        "restore the folder from the dataset archive, or create it empty if the domain has no such images");
}

}  // namespace

const std::vector<std::string>& image_folder_layouts() {
  static const std::vector<std::string> layouts{"auto", "domains", "office31", "visda2017"};
  return layouts;
}

std::string detect_image_folder_layout(const std::string& root) {
  if (fs::exists(root + "/train/image_list.txt") || fs::exists(root + "/validation/image_list.txt")) return "visda2017";
  const std::vector<std::string> domains = subdirectories(root);
  bool office31 = !domains.empty();
  for (const auto& d : domains) office31 = office31 && subdirectories(root + "/" + d) == std::vector<std::string>{"images"};
  return office31 ? "office31" : "domains";
}

FolderIndex index_class_folders(const std::string& root, bool office31) {
  FolderIndex index;
  index.domains = subdirectories(root);
  const std::string layout_hint = office31 ? "<root>/<domain>/images/<class>/<image>" : "<root>/<domain>/<class>/<image>";
  if (index.domains.empty())
    throw UserError("no domain folders", root, "expected " + layout_hint + " (docs/FORMATS.md)");
  // The class folders of each domain; their union is the class list.
  std::vector<std::string> class_roots;
  std::vector<std::vector<std::string>> per_domain;
  std::set<std::string> all;
  for (const auto& d : index.domains) {
    std::string dir = root + "/" + d + (office31 ? "/images" : "");
    if (office31 && !fs::is_directory(dir))
      throw UserError("domain folder without images/", dir,
                      "Office-31 keeps classes under <domain>/images/; use --layout domains for <domain>/<class>");
    per_domain.push_back(subdirectories(dir));
    all.insert(per_domain.back().begin(), per_domain.back().end());
    class_roots.push_back(dir);
  }
  index.classes.assign(all.begin(), all.end());
  if (index.classes.empty()) throw UserError("no class folders", root, "expected " + layout_hint);
  require_every_class(index, per_domain, class_roots);
  for (size_t d = 0; d < index.domains.size(); ++d)
    for (size_t c = 0; c < index.classes.size(); ++c)
      for (auto& path : class_images(class_roots[d] + "/" + index.classes[c]))
        index.items.push_back({std::move(path), static_cast<int>(d), static_cast<int>(c)});
  return index;
}

FolderIndex index_visda2017(const std::string& root) {
  FolderIndex index;
  std::vector<std::vector<std::string>> per_domain;
  std::vector<std::string> class_roots;
  std::set<std::string> all;
  // The two labelled splits of the classification track; test/ has no labels.
  for (const char* split : {"train", "validation"}) {
    std::string dir = root + "/" + split;
    if (!fs::is_directory(dir)) continue;
    index.domains.push_back(split);
    per_domain.push_back(subdirectories(dir));
    all.insert(per_domain.back().begin(), per_domain.back().end());
    class_roots.push_back(dir);
  }
  if (index.domains.empty())
    throw UserError("neither train/ nor validation/ found", root,
                    "pass the VisDA-2017 classification root (the folder holding train/ and validation/)");
  index.classes.assign(all.begin(), all.end());
  if (index.classes.empty())
    throw UserError("no class folders", class_roots[0], "expected <split>/<class>/<image> (VisDA-2017's train/, validation/)");
  require_every_class(index, per_domain, class_roots);
  for (size_t d = 0; d < index.domains.size(); ++d) {
    const std::string list = class_roots[d] + "/image_list.txt";
    if (!fs::exists(list))
      throw UserError("no image_list.txt", list, "restore it from the VisDA-2017 archive of " + index.domains[d]);
    std::istringstream lines(fs_util::read_file(list));
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      const std::string where = list + ":" + std::to_string(number);
      std::istringstream fields(line);
      std::string rel, label_text, extra;
      if (!(fields >> rel)) continue;  // blank line
      if (!(fields >> label_text) || (fields >> extra))
        throw UserError("malformed line (\"<path> <label>\" expected): " + line, where, "fix or remove the line");
      size_t used = 0;
      long long label = -1;
      try {
        label = std::stoll(label_text, &used);
      } catch (const std::exception&) {
      }
      if (used != label_text.size() || label < 0 || label >= static_cast<long long>(index.classes.size()))
        throw UserError("label " + label_text + " out of range 0.." + std::to_string(index.classes.size() - 1) +
                            " (the sorted class folders)",
                        where, "fix the label, or restore the missing class folder");
      const std::string path = class_roots[d] + "/" + rel;
      if (!fs::is_regular_file(path))
        throw UserError("image " + rel + " listed but missing", where, "restore the image, or remove its line");
      const std::string folder = fs::path(rel).begin()->string();
      auto it = std::lower_bound(index.classes.begin(), index.classes.end(), folder);
      if (it != index.classes.end() && *it == folder && it - index.classes.begin() != label)
        throw UserError("label " + label_text + " of " + rel + " disagrees with its class folder \"" + folder + "\" (class " +
                            std::to_string(it - index.classes.begin()) + ")",
                        where, "fix the label");
      index.items.push_back({path, static_cast<int>(d), static_cast<int>(label)});
    }
  }
  return index;
}

}  // namespace uda::data
