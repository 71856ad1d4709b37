// The main() of a fuzz target in an ordinary build: feeds each file named on
// the command line, or found in a directory named there, to
// LLVMFuzzerTestOneInput once, in name order. A directory that does not exist
// counts as empty (a target may have no regressions yet), but a run that
// finds no input at all fails, so a misspelt corpus path cannot pass.
//
// Usage: form_fuzz tests/fuzz/corpus/form_fuzz tests/fuzz/regressions/form_fuzz

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Runs the target on the bytes of `path`. The bytes sit in an allocation of
// exactly their size, so a sanitizer sees a read past the end.
bool Replay(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  std::vector<uint8_t> data(bytes.begin(), bytes.end());
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), data.size());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

// The regular files of `dir`, sorted by name so every run has one order.
std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code error;
    if (fs::is_directory(arg, error)) {
      for (const fs::path& file : FilesIn(arg)) {
        if (!Replay(file)) return 1;
        ++replayed;
      }
    } else if (fs::exists(arg, error)) {
      if (!Replay(arg)) return 1;
      ++replayed;
    } else {
      std::fprintf(stderr, "%s does not exist: nothing to replay there\n",
                   argv[i]);
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "no input found: name corpus files or directories\n");
    return 1;
  }
  std::fprintf(stderr, "replayed %zu inputs, every check held\n", replayed);
  return 0;
}
