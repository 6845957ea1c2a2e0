// Core error codes → HTTP status and JSON error code: the one table for HTTP/WS.
#pragma once

#include "core/status.h"

namespace dflockd::http {

struct HttpError {
  unsigned status;      ///< HTTP status code
  const char* code;     ///< the JSON "error" field
  const char* message;  ///< the JSON "message" field
};

HttpError ErrorFor(core::ErrorCode code);

}  // namespace dflockd::http
