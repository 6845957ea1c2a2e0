// Runs one protocol operation (ops.h) over an AsyncConnection: send the request,
// await the reply, parse it. Shared by the low-level functions, locks and signals.
#pragma once

#include <type_traits>

#include "dflockd/client/async_connection.h"
#include "ops.h"

namespace dflockd {

template <class T>
awaitable<T> RunOp(AsyncConnection& c, ops::Op<T> op) {
  auto reply = co_await c.call(std::move(op.request.bytes), op.request.server_wait);
  if constexpr (std::is_void_v<T>) {
    op.parse(reply);
  } else {
    co_return op.parse(reply);
  }
}

}  // namespace dflockd
