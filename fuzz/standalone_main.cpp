/// @file standalone_main.cpp
/// @brief Replay main for fuzz targets built without libFuzzer (SMTPH_FUZZ_LINKMAIN=ON).
///
/// Usage: fuzz_<target> [-flag=value...] FILE_OR_DIR...
/// Every regular file given, and every regular file directly inside a directory given, is read
/// into an exactly-sized heap buffer and passed to LLVMFuzzerTestOneInput once, in sorted
/// order; the empty input runs first, as in libFuzzer. Arguments starting with '-' are ignored
/// so libFuzzer command lines work unchanged. Exit status 0 when every input ran, 1 when an
/// argument could not be read or no input file was found; a failing invariant aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", p.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  // Exactly sized, so ASan reports any read past the end of the input.
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[bytes.empty() ? 1 : bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), buf.get());
  LLVMFuzzerTestOneInput(buf.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  std::vector<std::filesystem::path> files;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    std::error_code ec;
    const std::filesystem::path p(arg);
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p, ec)) {
        if (e.is_regular_file(ec)) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", arg.c_str());
      ok = false;
    }
  }
  std::sort(files.begin(), files.end());

  const std::uint8_t empty = 0;
  LLVMFuzzerTestOneInput(&empty, 0);
  std::size_t ran = 0;
  for (const auto& f : files) {
    if (run_file(f)) {
      ++ran;
    } else {
      ok = false;
    }
  }
  std::fprintf(stderr, "replay: %s: %zu input(s) ok\n", argc > 0 ? argv[0] : "fuzz", ran);
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files given\n");
    return 1;
  }
  return ok ? 0 : 1;
}
