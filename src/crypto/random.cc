#include "aegis/crypto/random.h"

#include <algorithm>
#include <climits>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "aegis/crypto/encoding.h"

namespace aegis::crypto {

Status RandomBytes(std::span<uint8_t> out) {
  // RAND_bytes takes an int length; feed large requests in slices.
  size_t done = 0;
  while (done < out.size()) {
    const size_t n = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      return Status::Internal("random number generator failed");
    }
    done += n;
  }
  return Status::Ok();
}

StatusOr<std::string> RandomHex(size_t n) {
  std::vector<uint8_t> bytes(n);
  AEGIS_RETURN_IF_ERROR(RandomBytes(bytes));
  std::string out = HexEncode(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());  // the caller may use it as a secret
  return out;
}

StatusOr<std::string> RandomBase64Url(size_t n) {
  std::vector<uint8_t> bytes(n);
  AEGIS_RETURN_IF_ERROR(RandomBytes(bytes));
  std::string out = Base64UrlEncode(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace aegis::crypto
