// Wires the engine, its host and the listeners into one process and runs it until
// SIGINT/SIGTERM has drained it.
#pragma once

#include "app/config.h"

namespace dflockd::app {

/// Runs the server; returns the process exit code.
int RunServer(const Config& config);

}  // namespace dflockd::app
