// Asio's and Asio SSL's compiled parts, built once for the whole tools library
// (ASIO_SEPARATE_COMPILATION, set on smtph_asio in tools/CMakeLists.txt) instead of inline in
// every translation unit: faster builds, and GCC 12's -O2/-O3 false positives from Asio's
// scheduler (-Wnull-dereference in scheduler::compensating_work_started, inlined into the
// epoll reactor) are confined to, and silenced in, this one file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#if defined(ASIO_SEPARATE_COMPILATION)
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
#endif
