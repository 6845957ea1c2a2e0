# find_package(dflockd) for installed client headers and library: dflockd::client.
include(CMakeFindDependencyMacro)
find_dependency(Boost 1.81 CONFIG)
find_dependency(OpenSSL)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/dflockdClientTargets.cmake")
