// Runs the real dflockd binary (path in $DFLOCKD_BIN) on free ports for a test.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace dflockd::testing {

/// N distinct ports that were free a moment ago. Every socket stays bound until
/// all are picked, so the kernel cannot hand out the same port twice.
template <std::size_t N>
std::array<int, N> FreePorts() {
  std::array<int, N> fds{};
  std::array<int, N> ports{};
  for (std::size_t i = 0; i < N; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len);
    ports[i] = ntohs(addr.sin_port);
  }
  for (int fd : fds) ::close(fd);
  return ports;
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
    // Tests run in parallel, so another test's server can take a port between our
    // pick and our bind; the server then exits at once and we retry on new ports.
    for (int attempt = 0;; ++attempt) {
      if (TryStart(extra_args)) return;
      if (attempt == 4) throw std::runtime_error("dflockd exited at start");
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
  /// False if the server exited during start-up (a lost port race).
  bool TryStart(const std::vector<std::string>& extra_args) {
    const char* bin = std::getenv("DFLOCKD_BIN");
    if (bin == nullptr) throw std::runtime_error("DFLOCKD_BIN is not set");
    auto ports = FreePorts<3>();
    native_port = ports[0];
    grpc_port = ports[1];
    http_port = ports[2];
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
    while (!(CanConnect(native_port) && CanConnect(grpc_port) && CanConnect(http_port))) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no dflockd");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace dflockd::testing
