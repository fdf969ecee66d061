// SecureBuffer: a byte buffer for secrets and plaintext model bytes.
//
// Zeroizes its contents (OPENSSL_cleanse) on destruction and on every reallocation,
// and asks the kernel to keep the pages out of core dumps (MADV_DONTDUMP) once the
// buffer is large enough to own whole pages. Move-only so a secret is never copied
// by accident.
//
// Thread-safety: like std::vector — no internal locking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace aegis::crypto {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  explicit SecureBuffer(size_t size);  // zero-filled
  SecureBuffer(const uint8_t* data, size_t size);
  ~SecureBuffer();
  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void resize(size_t size);  // grows zero-filled; old storage is wiped
  void reserve(size_t capacity);
  void append(const uint8_t* data, size_t size);
  void clear();  // wipes and releases

  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  void Release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace aegis::crypto
