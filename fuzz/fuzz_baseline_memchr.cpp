// Baseline for the exec/s figures (issue 6, item 5): scans its input for LF with memchr and
// does nothing else. Built with exactly the flags of the real targets; fuzz/run_all.sh prints
// every target's exec/s as a ratio to this one's.
#include <cstddef>
#include <cstdint>
#include <cstring>

// Keeps the scan from being optimised away.
volatile std::size_t g_baseline_lines = 0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t lines = 0;
  const std::uint8_t* p = data;
  const std::uint8_t* const end = data + size;
  while (p != end) {
    const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    if (hit == nullptr) break;
    p = static_cast<const std::uint8_t*>(hit) + 1;
    ++lines;
  }
  g_baseline_lines = lines;
  return 0;
}
