// The image lists of the classification-by-folder layouts that
// `uda convert --format imagefolder` reads (docs/FORMATS.md):
//
//   domains    <root>/<domain>/<class>/<image>          PACS, VLCS, OfficeHome,
//                                                        TerraIncognita, DomainNet
//   office31   <root>/<domain>/images/<class>/<image>   Office-31
//   visda2017  <root>/{train,validation}/<class>/<image> + image_list.txt
//
// Domains and classes are sorted folder names and images are listed in
// torchvision ImageFolder's order (what DomainBed's
// MultipleEnvironmentImageFolder builds, domainbed/datasets.py:186-225);
// VisDA-2017 follows its image_list.txt files.
#pragma once

#include <string>
#include <vector>

namespace uda::data {

struct FolderItem {
  std::string path;  // absolute or relative to the working directory, as --src was given
  int domain = 0;
  int cls = 0;
};

struct FolderIndex {
  std::vector<std::string> domains, classes;
  std::vector<FolderItem> items;  // by domain, then class, then path (visda2017: list order)
};

// The layout names accepted by --layout, "auto" first.
const std::vector<std::string>& image_folder_layouts();
// "visda2017" when <root>/train or <root>/validation holds image_list.txt;
// "office31" when every domain folder holds exactly one folder, "images";
// "domains" otherwise.
std::string detect_image_folder_layout(const std::string& root);

// domains / office31. Every domain must hold every class folder (an empty
// one is fine); a missing one is a UserError naming it. Images are the
// files with a PNG or JPEG extension at any depth below the class folder,
// in sorted(os.walk()) order; other image types torchvision reads are a
// UserError, other files are ignored.
FolderIndex index_class_folders(const std::string& root, bool office31);

// visda2017: <root>/train (synthetic) and <root>/validation (real), those
// present, each with class folders and an image_list.txt of
// "<path relative to the split folder> <label>" lines, label = index of the
// class folder in sorted order. A line naming a missing file, a label out
// of range or disagreeing with the path's class folder, or a malformed line
// is a UserError naming the list file and line.
FolderIndex index_visda2017(const std::string& root);

}  // namespace uda::data
