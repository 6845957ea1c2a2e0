// Boost.JSON's implementation, compiled once (header-only mode; Debian's
// libboost1.81-dev ships the headers, this avoids a second library package).
#include <boost/json/src.hpp>
