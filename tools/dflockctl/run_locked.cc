#include "run_locked.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "dflockd/client/errors.h"
#include "dflockd/client/lock.h"

extern char** environ;

namespace dflockctl {
namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : kForwarded) sigaddset(&set, signo);
  sigaddset(&set, SIGCHLD);
  return set;
}

/// Starts argv with default signal handling and an empty mask; -1 if it cannot run.
pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults = HandledSignals();
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::cerr << "dflockctl: cannot run " << argv[0] << ": " << std::strerror(rc) << '\n';
    return -1;
  }
  return pid;
}

int ExitStatusOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kFailure;
}

}  // namespace

int RunLocked(const GlobalOptions& global, const LockedCommand& command) {
  // Block the signals we handle before any thread exists (the lock's I/O thread
  // inherits the mask), so they all arrive at the sigtimedwait below.
  sigset_t handled = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);

  std::atomic<bool> lost{false};
  dflockd::LockOptions options;
  options.servers = Servers(global);
  options.connection = ConnectOptionsFrom(global);
  options.acquire_timeout = std::chrono::seconds(command.timeout_s);
  if (command.lease_s > 0) options.lease_ttl = std::chrono::seconds(command.lease_s);
  options.renew_after_disconnect = command.durable || !command.failover_servers.empty();
  for (const auto& s : command.failover_servers) {
    options.failover_servers.push_back(dflockd::ServerAddress::parse(s));
  }
  options.on_lost = [&lost](const std::string& key, const std::string& reason) {
    std::cerr << "dflockctl: lost the lock on '" << key << "': " << reason << '\n';
    lost = true;
  };
  std::unique_ptr<dflockd::BasicLock> lock;
  if (command.limit == 0) {
    lock = std::make_unique<dflockd::DistributedLock>(command.key, options);
  } else {
    lock = std::make_unique<dflockd::DistributedSemaphore>(command.key, command.limit, options);
  }
  // While waiting for the grant, ^C simply ends dflockctl (the server drops the
  // waiter with the connection); the command's own signal handling starts after.
  pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  bool acquired = lock->acquire();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  if (!acquired) {
    std::cerr << "dflockctl: '" << command.key << "' not acquired within " << command.timeout_s
              << " s\n";
    return kNotAcquired;
  }

  pid_t child = Spawn(command.argv);
  if (child < 0) {
    lock->release();
    return kCannotRun;
  }
  int status = 0;
  bool child_done = false;
  bool lost_reported = false;
  timespec poll_interval{0, 100'000'000};
  while (!child_done) {
    siginfo_t info{};
    int signo = sigtimedwait(&handled, &info, &poll_interval);
    if (signo > 0 && signo != SIGCHLD && info.si_code != SI_KERNEL) {
      // Sent with kill(): pass it on. (A terminal's ^C already reached the child,
      // which shares our process group; forwarding it would deliver it twice.)
      ::kill(child, signo);
    }
    if (lost && !lost_reported) {
      lost_reported = true;
      ::kill(child, SIGTERM);  // the command must not go on without the lock
    }
    if (::waitpid(child, &status, WNOHANG) == child) child_done = true;
  }
  if (lost) return kLost;
  lock->release();
  return ExitStatusOf(status);
}

}  // namespace dflockctl
