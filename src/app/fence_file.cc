#include "app/fence_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string>

namespace dflockd::app {

std::optional<std::uint64_t> FenceFile::Load() const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return 0;
    return std::nullopt;
  }
  std::string text;
  std::getline(in, text);
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

bool FenceFile::Reserve(std::uint64_t limit) {
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string text = std::to_string(limit) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  return ok && std::rename(tmp.c_str(), path_.c_str()) == 0;
}

}  // namespace dflockd::app
