// UTF-8 checks for transports whose text fields must be valid UTF-8 (JSON, protobuf
// strings). Keys and channels are bytes on the native protocol; they are shown with
// each invalid byte replaced by U+FFFD.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dflockd::core {

/// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is not one.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i);

bool IsValidUtf8(std::string_view s);

/// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD.
std::string ToValidUtf8(std::string_view s);

}  // namespace dflockd::core
