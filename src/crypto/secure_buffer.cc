#include "aegis/crypto/secure_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <openssl/crypto.h>

namespace aegis::crypto {
namespace {

// Buffers of at least one page come straight from mmap: the pages are ours alone,
// so MADV_DONTDUMP cannot hide unrelated heap data, and the kernel hands them out
// zero-filled (a 1 GiB model buffer costs nothing until it is written).
size_t PageSize() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

bool UsesMmap(size_t capacity) { return capacity >= PageSize(); }

size_t RoundUpToPage(size_t n) {
  const size_t page = PageSize();
  return (n + page - 1) / page * page;
}

// Returns zero-filled storage of `*capacity` bytes (possibly rounded up).
uint8_t* Allocate(size_t* capacity) {
  if (*capacity == 0) return nullptr;
  if (UsesMmap(*capacity)) {
    *capacity = RoundUpToPage(*capacity);
    void* p = ::mmap(nullptr, *capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // Best effort: a kernel without MADV_DONTDUMP still gets a working buffer.
    (void)::madvise(p, *capacity, MADV_DONTDUMP);
    return static_cast<uint8_t*>(p);
  }
  void* p = std::calloc(1, *capacity);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

void Free(uint8_t* data, size_t used, size_t capacity) {
  if (data == nullptr) return;
  // Only the bytes ever handed out can hold secrets; the rest is still zero.
  OPENSSL_cleanse(data, used);
  if (UsesMmap(capacity)) {
    ::munmap(data, capacity);
  } else {
    std::free(data);
  }
}

}  // namespace

SecureBuffer::SecureBuffer(size_t size) : capacity_(size) {
  data_ = Allocate(&capacity_);
  size_ = size;
}

SecureBuffer::SecureBuffer(const uint8_t* data, size_t size) : SecureBuffer(size) {
  if (size > 0) std::memcpy(data_, data, size);
}

SecureBuffer::~SecureBuffer() { Release(); }

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

void SecureBuffer::Release() {
  // Bytes past size_ are always zero (resize() wipes when shrinking), so wiping
  // size_ bytes is enough and untouched mmap pages are never faulted in.
  Free(data_, size_, capacity_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

void SecureBuffer::reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  size_t new_capacity = capacity;
  uint8_t* fresh = Allocate(&new_capacity);
  if (size_ > 0) std::memcpy(fresh, data_, size_);
  Free(data_, size_, capacity_);
  data_ = fresh;
  capacity_ = new_capacity;
}

void SecureBuffer::resize(size_t size) {
  if (size > capacity_) reserve(size);
  // Bytes between the old and new size must read as zero (they may hold an old secret).
  if (size > size_) std::memset(data_ + size_, 0, size - size_);
  if (size < size_) OPENSSL_cleanse(data_ + size, size_ - size);
  size_ = size;
}

void SecureBuffer::append(const uint8_t* data, size_t size) {
  if (size == 0) return;
  if (size_ + size > capacity_) reserve(std::max(size_ + size, capacity_ * 2));
  std::memcpy(data_ + size_, data, size);
  size_ += size;
}

void SecureBuffer::clear() { Release(); }

}  // namespace aegis::crypto
