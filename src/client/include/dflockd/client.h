// The dflockd C++ client: everything in one include.
#pragma once

#include "dflockd/client/async_connection.h"
#include "dflockd/client/async_lock.h"
#include "dflockd/client/async_signal.h"
#include "dflockd/client/connection.h"
#include "dflockd/client/errors.h"
#include "dflockd/client/lock.h"
#include "dflockd/client/options.h"
#include "dflockd/client/sharding.h"
#include "dflockd/client/signal.h"
#include "dflockd/client/types.h"
