// OnWorker: run a function on the worker pool from an I/O coroutine and resume
// the coroutine on its own executor (the connection's strand) with the result.
//
// Lighter than co_spawn (no extra coroutine frames): the callable is posted to the
// pool, and the result is posted back to the awaiting coroutine's executor. The
// callable may reference the awaiting frame's locals: the frame is suspended, and
// kept alive by the completion handler, until the result is delivered.
//
// The callable must not throw (wrap handler calls; see session.cc).
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "aegis/http/message.h"

namespace aegis::http::internal {

template <typename F, typename R = std::invoke_result_t<F&>>
auto OnWorker(const boost::asio::io_context::executor_type& pool, F f) {
  static_assert(std::is_nothrow_invocable_v<F&>, "OnWorker callables must be noexcept");
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
      [pool](auto handler, F fn) {
        auto home = boost::asio::get_associated_executor(handler);
        boost::asio::post(pool, [fn = std::move(fn), handler = std::move(handler), home]() mutable {
          R result = fn();
          boost::asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      boost::asio::use_awaitable, std::move(f));
}

// Like OnWorker, for a callable that answers later: `f(Reply)` runs on the pool
// and may hand the Reply to another thread (an engine worker's driver); the
// coroutine resumes on its own executor with the Response it is given. The Reply
// answers 500 if it is dropped unanswered, so the coroutine always resumes.
template <typename F>
auto OnWorkerAsync(const boost::asio::io_context::executor_type& pool, F f) {
  static_assert(std::is_nothrow_invocable_v<F&, Reply>, "OnWorkerAsync callables must be noexcept");
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Response)>(
      [pool](auto handler, F fn) {
        auto home = boost::asio::get_associated_executor(handler);
        auto resume = std::make_shared<decltype(handler)>(std::move(handler));
        Reply reply([resume, home](Response response) {
          boost::asio::post(
              home, [resume, response = std::move(response)]() mutable { std::move (*resume)(std::move(response)); });
        });
        boost::asio::post(pool, [fn = std::move(fn), reply = std::move(reply)]() mutable { fn(std::move(reply)); });
      },
      boost::asio::use_awaitable, std::move(f));
}

// Like OnWorkerAsync, but `f(Reply)` runs right here, on the awaiting
// coroutine's thread (for a handler that only hands its request to another
// thread). The coroutine still resumes through its executor, never inside `f`.
template <typename F>
auto HereAsync(F f) {
  static_assert(std::is_nothrow_invocable_v<F&, Reply>, "HereAsync callables must be noexcept");
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Response)>(
      [](auto handler, F fn) {
        auto home = boost::asio::get_associated_executor(handler);
        auto resume = std::make_shared<decltype(handler)>(std::move(handler));
        Reply reply([resume, home](Response response) {
          boost::asio::post(
              home, [resume, response = std::move(response)]() mutable { std::move (*resume)(std::move(response)); });
        });
        fn(std::move(reply));
      },
      boost::asio::use_awaitable, std::move(f));
}

}  // namespace aegis::http::internal
