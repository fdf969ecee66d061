// Thread-safety annotations: attributes that let clang's -Wthread-safety prove,
// at compile time, that shared state is only touched with its lock held.
//
// They name the capability (a lock) that protects a member or that a function
// needs, acquires or releases:
//
//   class Counter {
//    public:
//     void Add(int n) AEGIS_EXCLUDES(mu_) { MutexLock lock(mu_); AddLocked(n); }
//    private:
//     void AddLocked(int n) AEGIS_REQUIRES(mu_) { total_ += n; }
//     Mutex mu_;
//     int total_ AEGIS_GUARDED_BY(mu_) = 0;
//   };
//
// Only types that declare themselves capabilities are checked: libstdc++'s
// std::mutex is not annotated, so shared state is guarded by aegis::Mutex
// (aegis/common/mutex.h). With g++ every macro expands to nothing.
// The attributes are clang's (see its ThreadSafetyAnalysis documentation); the
// names carry an AEGIS_ prefix so they never collide with a library's macros.
//
// Thread-safety: macros only.
#pragma once

#if defined(__clang__)
#define AEGIS_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define AEGIS_THREAD_ANNOTATION_(x)
#endif

// On a class: its objects are capabilities (locks); `x` names the kind ("mutex").
#define AEGIS_CAPABILITY(x) AEGIS_THREAD_ANNOTATION_(capability(x))
// On a class: an RAII object that holds a capability for its lifetime.
#define AEGIS_SCOPED_CAPABILITY AEGIS_THREAD_ANNOTATION_(scoped_lockable)

// On a data member: read or written only with `x` held.
#define AEGIS_GUARDED_BY(x) AEGIS_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: what it points to is read or written only with `x` held.
#define AEGIS_PT_GUARDED_BY(x) AEGIS_THREAD_ANNOTATION_(pt_guarded_by(x))

// On a lock member: the order in which locks must be taken.
#define AEGIS_ACQUIRED_BEFORE(...) AEGIS_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define AEGIS_ACQUIRED_AFTER(...) AEGIS_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the capabilities (exclusively / shared).
#define AEGIS_REQUIRES(...) AEGIS_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define AEGIS_REQUIRES_SHARED(...) AEGIS_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// On a function: the caller must not hold them (the function takes them itself).
#define AEGIS_EXCLUDES(...) AEGIS_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// On a function: it acquires / releases the capabilities (on a member function of
// a capability with no argument: the object itself).
#define AEGIS_ACQUIRE(...) AEGIS_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define AEGIS_ACQUIRE_SHARED(...) AEGIS_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define AEGIS_RELEASE(...) AEGIS_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define AEGIS_RELEASE_SHARED(...) AEGIS_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
// On a function: it acquires the capability when it returns `result` (true/false).
#define AEGIS_TRY_ACQUIRE(...) AEGIS_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))

// On a function: it checks at run time that the capability is held, and the
// analysis may assume so afterwards.
#define AEGIS_ASSERT_CAPABILITY(x) AEGIS_THREAD_ANNOTATION_(assert_capability(x))
// On a function: it returns a reference to the capability `x`.
#define AEGIS_RETURN_CAPABILITY(x) AEGIS_THREAD_ANNOTATION_(lock_returned(x))

// On a function: the analysis does not look inside it. Every use says why.
#define AEGIS_NO_THREAD_SAFETY_ANALYSIS AEGIS_THREAD_ANNOTATION_(no_thread_safety_analysis)
