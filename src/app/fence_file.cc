#include "app/fence_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace dflockd::app {
namespace {

/// The directory holding `path`, for the fsync that makes a rename durable.
std::string DirectoryOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::optional<FenceState> FenceFile::Load() const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return FenceState{};
    return std::nullopt;
  }
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  FenceState state;
  state.exists = true;
  std::string_view rest(text);
  auto nl = rest.find('\n');
  std::string_view number = rest.substr(0, nl);
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), state.mark);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size()) {
    return std::nullopt;
  }
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (rest == "clean\n" || rest == "clean") {
    state.clean = true;
  } else if (!rest.empty()) {
    return std::nullopt;
  }
  // A mark this close to 2^64 leaves no room for another block of fences: fences
  // would wrap and go backwards. Such a file was not written by dflockd.
  if (state.mark > std::numeric_limits<std::uint64_t>::max() - 2 * core::TokenSource::kReserveBlock) {
    return std::nullopt;
  }
  return state;
}

bool FenceFile::Reserve(std::uint64_t limit) { return Write(std::to_string(limit) + "\n"); }

bool FenceFile::MarkClean(std::uint64_t limit) {
  return Write(std::to_string(limit) + "\nclean\n");
}

bool FenceFile::Write(const std::string& text) {
  const std::string tmp = path_ + ".tmp";
  bool ok = false;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
         ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    ok = ok && std::rename(tmp.c_str(), path_.c_str()) == 0;
    if (ok) {
      // The rename is durable only once the directory entry is on disk.
      int dir = ::open(DirectoryOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      ok = dir >= 0 && ::fsync(dir) == 0;
      if (dir >= 0) ::close(dir);
    }
  }
  if (!ok) {
    last_error_ = std::strerror(errno);
    if (!failing_) {
      spdlog::error("fence state file {}: cannot persist the fence mark ({}): refusing grants "
                    "until it can",
                    path_, last_error_);
    }
    failing_ = true;
    return false;
  }
  if (failing_) spdlog::info("fence state file {}: writable again, grants resume", path_);
  failing_ = false;
  return true;
}

}  // namespace dflockd::app
