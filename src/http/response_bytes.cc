#include "http/response_bytes.h"

#include <charconv>

namespace dflockd::http {

void AppendResponseBytes(const boost::beast::http::response<boost::beast::http::string_body>& res,
                         std::string& out) {
  const unsigned version = res.version();
  char digits[8];
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
  out.push_back(' ');
  const auto status = std::to_chars(digits, digits + sizeof digits, res.result_int());
  out.append(digits, status.ptr);
  out.push_back(' ');
  const auto reason = res.reason();
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (const auto& field : res) {
    const auto name = field.name_string();
    const auto value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(res.body());
}

}  // namespace dflockd::http
