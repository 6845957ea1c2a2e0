// A whole file as bytes (certificates and keys for the gRPC and etcd TLS setups).
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dflockd::io {

/// Throws std::runtime_error("cannot read <path>") if it cannot be opened.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace dflockd::io
