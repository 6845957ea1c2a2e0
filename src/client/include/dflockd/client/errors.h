// Exceptions thrown by the dflockd client library.
//
// Everything derives from dflockd::Error, so `catch (const dflockd::Error&)` catches
// every failure the library reports. The subclasses mirror the Python client's
// exceptions: TimeoutError, PermissionError (AuthError here), ValueError
// (InvalidArgument), ConnectionError.
#pragma once

#include <stdexcept>
#include <string>

namespace dflockd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A key, channel, payload or option that the protocol would reject (checked before
/// anything is sent, so a bad key can never inject a second command).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// The server did not grant the lock/semaphore within the acquire timeout.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// The server rejected the auth token (`error_auth`), or demands one we did not send.
class AuthError : public Error {
 public:
  using Error::Error;
};

/// Connecting failed, the connection dropped, or a reply did not arrive in time.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

/// The server answered with an error status (`error`, `error_max_locks`, ...).
/// code() is the status word exactly as the server sent it.
class ServerError : public Error {
 public:
  ServerError(std::string code, const std::string& what) : Error(what), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace dflockd
