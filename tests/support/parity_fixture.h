// The parity fixture set the tests compare with: where it is, which weight
// manifests it holds, and the .pth files rebuilt from them.
//
// A set is a folder with golden.h5 and any number of <name>.weights.json
// manifests, each naming the .pth file it describes ("file"). Nothing about a
// particular set is assumed here: the tests discover the manifests and read
// file names, variants and cases from the manifests and golden.h5.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace uda::test {

// UDA_PARITY_DIR when set, else the public set assembled from
// tests/fixtures/parity by the build. Throws, naming the folder and the fix,
// when it holds no golden.h5.
std::string parity_dir();
std::string parity_golden();  // parity_dir() + "/golden.h5"

struct ParityManifest {
  std::string path;     // <set>/<name>.weights.json
  std::string file;     // the .pth it describes ("file")
  nlohmann::json json;  // the whole manifest
};
// Every *.weights.json of the set, by file name.
std::vector<ParityManifest> parity_manifests();
// The manifest whose "file" is `pth_file`; throws when the set has none.
ParityManifest parity_manifest_for(const std::string& pth_file);

// `pth_file` rebuilt from its manifest by scripts/rebuild_parity_weights.py
// into <build>/parity-weights/<manifest stem>-<hash of the manifest bytes>/,
// so that two sets (or two versions of one) never share a rebuilt file. A
// lock serialises concurrent test processes; a stamp marks a verified
// folder. Throws with the script's output when Python or the rebuild fails.
std::string parity_weights(const std::string& pth_file);

// Debian's python3 when it imports torch and numpy (the rebuild and the
// reference scripts need both); throws, naming the packages, otherwise.
const std::string& python_with_torch();

}  // namespace uda::test
