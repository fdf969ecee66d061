#include "terminal_qr.h"

#include <memory>

#include <qrencode.h>

#include "commands.h"

namespace aegis::cli {

std::string RenderQrCode(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, /*casesensitive=*/1), QRcode_free);
  if (!code) throw CommandError("cannot draw the QR code");
  const int width = code->width;
  constexpr int kQuiet = 2;  // modules of light border scanners need
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (code->data[y * width + x] & 1) != 0;
  };
  // Terminals are usually light text on a dark background: draw the light
  // modules (and the quiet zone) as blocks so the code reads dark-on-light.
  std::string out;
  for (int y = -kQuiet; y < width + kQuiet; y += 2) {
    for (int x = -kQuiet; x < width + kQuiet; ++x) {
      const bool top_light = !dark(x, y);
      const bool bottom_light = !dark(x, y + 1);
      if (top_light && bottom_light) {
        out += "\u2588";  // full block
      } else if (top_light) {
        out += "\u2580";  // upper half
      } else if (bottom_light) {
        out += "\u2584";  // lower half
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace aegis::cli
