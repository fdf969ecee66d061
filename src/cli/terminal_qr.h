// A QR code drawn with Unicode half blocks, for enrolling an authenticator app
// from a terminal (`aegis user add`). Encoding is libqrencode's.
#pragma once

#include <string>

namespace aegis::cli {

// The QR code of `text` (error correction level M) as lines of text, two
// modules per character row, dark modules drawn light-on-dark-safe with a
// quiet zone. Throws CommandError when the text cannot be encoded.
std::string RenderQrCode(const std::string& text);

}  // namespace aegis::cli
