// Configuration parsing: arguments from the input (NUL-separated; `DFLOCKD_*=value`
// pieces become environment variables instead), through CLI11 and the server's
// validation. It must return a configuration or an exit code, never
// crash, and a configuration it returns must satisfy the documented bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"dflockd"};
  std::size_t start = 0;
  while (start <= input.size() && args.size() < 24) {
    std::size_t end = input.find('\0', start);
    if (end == std::string::npos) end = input.size();
    args.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& a : args) {
    // No help or version requests (they print and succeed, also as `-h…` bundles)
    // and no file reads.
    if (a.rfind("--h", 0) == 0 || a.rfind("--v", 0) == 0 ||
        (a.size() > 1 && a[0] == '-' && a[1] != '-' && a.find('h') != std::string::npos) ||
        a.find("file") != std::string::npos) {
      return 0;
    }
  }
  std::vector<char*> argv;
  std::vector<std::string> env_names;
  for (auto& a : args) {
    auto eq = a.find('=');
    if (a.rfind("DFLOCKD_", 0) == 0 && eq != std::string::npos) {
      env_names.push_back(a.substr(0, eq));
      setenv(env_names.back().c_str(), a.c_str() + eq + 1, 1);
    } else {
      argv.push_back(a.data());
    }
  }
  auto parsed = dflockd::app::ParseConfig(static_cast<int>(argv.size()), argv.data(), "fuzz");
  for (const auto& name : env_names) unsetenv(name.c_str());
  if (parsed.config) {
    const auto& c = *parsed.config;
    if (c.port == 0 || c.default_lease_ttl_s < 1 || c.read_timeout_s < 1 || c.max_locks < 1 ||
        c.lock_delay_s < 0 || (c.max_lease_ttl_s != 0 && c.default_lease_ttl_s > c.max_lease_ttl_s)) {
      __builtin_trap();
    }
  } else if (parsed.exit_code != 1) {
    __builtin_trap();  // an invalid configuration exits with status 1
  }
  return 0;
}
