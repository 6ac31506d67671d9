// FakeHttpTransport: the scripted transport that tests use in place of the network.
// Thread-safe; a handler runs without the lock held, so it may take its time (or touch a store).
#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"

namespace fieldsync::platform {

FakeHttpTransport& FakeHttpTransport::then(Handler handler) {
  std::lock_guard lock(mutex_);
  script_.push_back(std::move(handler));
  return *this;
}

FakeHttpTransport& FakeHttpTransport::then_respond(HttpResponse response) {
  return then([response = std::move(response)](const HttpRequest&) { return response; });
}

FakeHttpTransport& FakeHttpTransport::then_fail(std::string message) {
  return then([message = std::move(message)](const HttpRequest&) -> HttpResponse {
    throw Error(ErrorDomain::kNetwork, 7, message);  // 7: CURLE_COULDNT_CONNECT, as curl says it
  });
}

HttpResponse FakeHttpTransport::send(const HttpRequest& request) {
  Handler step;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    if (next_step_ == script_.size()) {
      throw Error(ErrorDomain::kNetwork, 7,
                  "the fake transport has no scripted answer for request " +
                      std::to_string(requests_.size()) + " to " + request.url);
    }
    step = script_[next_step_++];
  }
  return step(request);
}

std::vector<HttpRequest> FakeHttpTransport::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeHttpTransport::steps_left() const {
  std::lock_guard lock(mutex_);
  return script_.size() - next_step_;
}

}  // namespace fieldsync::platform
