// Replays every file of a corpus directory (or the files given) through
// LLVMFuzzerTestOneInput, so the test suite checks fuzz seeds and past
// crashes under the sanitizers without libFuzzer.
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

static int run_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (::stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "missing %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR* d = ::opendir(argv[i]);
      while (struct dirent* e = d ? ::readdir(d) : nullptr) {
        if (e->d_name[0] == '.') continue;
        if (run_file(std::string(argv[i]) + "/" + e->d_name) != 0) return 1;
        ++files;
      }
      if (d) ::closedir(d);
    } else {
      if (run_file(argv[i]) != 0) return 1;
      ++files;
    }
  }
  // Also the empty input, always.
  LLVMFuzzerTestOneInput(nullptr, 0);
  std::printf("replayed %d inputs\n", files + 1);
  return 0;
}
