#include "common/utf8.h"

#include <cstdio>

#include "common/error.h"

namespace pg {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when it is invalid.
size_t valid_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong 3-byte forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong 4-byte forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

size_t first_invalid(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = valid_sequence_length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string::npos;
}

}  // namespace

bool is_valid_utf8(const std::string& text) { return first_invalid(text) == std::string::npos; }

std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t length = valid_sequence_length(text, i);
    const auto lead = static_cast<unsigned char>(text[i]);
    if (length == 0 || (length == 1 && (lead < 0x20 || lead == 0x7F))) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", lead);
      out += escaped;
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

void require_utf8(const std::string& text, const std::string& what, const std::string& fix) {
  const size_t at = first_invalid(text);
  if (at == std::string::npos) return;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[at]));
  const std::string shown = printable(text.size() > 200 ? text.substr(0, 200) + "..." : text);
  throw Error(what + " is not valid UTF-8 (byte " + byte + " at offset " + std::to_string(at) + " of \"" + shown +
              "\"); " + fix);
}

}  // namespace pg
