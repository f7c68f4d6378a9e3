#include "report/write.h"

#include <cerrno>
#include <cstdio>
#include <new>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace smtp::report {
namespace {

std::error_code last_error() noexcept { return {errno, std::generic_category()}; }

std::error_code write_all(int fd, std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::error_code write_file_atomic(const std::filesystem::path& path,
                                  std::string_view bytes) noexcept {
  try {
    if (path == "-") {
      const std::error_code ec = write_all(STDOUT_FILENO, bytes);
      return ec;
    }
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) return last_error();
    std::error_code ec = write_all(fd, bytes);
    if (!ec && ::fchmod(fd, 0644) != 0) ec = last_error();
    if (!ec && ::fsync(fd) != 0) ec = last_error();
    if (::close(fd) != 0 && !ec) ec = last_error();
    if (!ec && ::rename(tmpl.c_str(), path.c_str()) != 0) ec = last_error();
    if (ec) {
      ::unlink(tmpl.c_str());
      return ec;
    }
    // Make the rename itself durable; failure here does not undo a complete write.
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    return {};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    return std::make_error_code(std::errc::io_error);
  }
}

std::error_code write_report(const Report& report, const std::filesystem::path& path) noexcept {
  try {
    return write_file_atomic(path, to_json_text(report));
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    return std::make_error_code(std::errc::io_error);
  }
}

std::error_code write_junit(const Report& report, const std::filesystem::path& path,
                            const JunitOptions& options) noexcept {
  try {
    return write_file_atomic(path, to_junit_xml(report, options));
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    return std::make_error_code(std::errc::io_error);
  }
}

}  // namespace smtp::report
