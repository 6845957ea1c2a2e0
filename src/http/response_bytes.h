// An HTTP/1.x response as the bytes that go on the wire.
//
// Why not Beast's serializer: in a REST lock+release benchmark its buffer-sequence
// machinery (buffers_cat_view iteration, a write_op chain per response) was the
// largest user-space cost of the HTTP path. A response here is small and whole in
// memory, so it is flattened once into one buffer: one send, usually taken whole.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace dflockd::http {

/// Appends the status line, every field (as set, in order), the blank line and the body.
void AppendResponseBytes(const boost::beast::http::response<boost::beast::http::string_body>& res,
                         std::string& out);

}  // namespace dflockd::http
