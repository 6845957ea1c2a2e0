// Runs the real dflockd binary (path in $DFLOCKD_BIN) on free ports for a test.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace dflockd::testing {

/// A port that was free a moment ago (bind to 0, read it back, close).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra_args = {}) {
    const char* bin = std::getenv("DFLOCKD_BIN");
    if (bin == nullptr) throw std::runtime_error("DFLOCKD_BIN is not set");
    native_port = FreePort();
    grpc_port = FreePort();
    http_port = FreePort();
    std::vector<std::string> args = {bin,           "--port",      std::to_string(native_port),
                                     "--grpc-port", std::to_string(grpc_port),
                                     "--http-port", std::to_string(http_port)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin, nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start dflockd");
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(CanConnect(native_port) && CanConnect(grpc_port))) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("dflockd exited at start");
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no dflockd");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// SIGINT and wait; returns the exit status (0 = clean, no sanitizer report).
  int Stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_status_;
  }

  void Signal(int signo) { ::kill(pid_, signo); }

  ~ServerProcess() { Stop(); }

  std::string grpc_address() const { return "127.0.0.1:" + std::to_string(grpc_port); }

  int native_port = 0;
  int grpc_port = 0;
  int http_port = 0;

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace dflockd::testing
