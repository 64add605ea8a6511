// N-API addon: a NETLINK_ROUTE socket subscribed to link (RTMGRP_LINK) events, read from the
// libuv loop through uv_poll, so the event loop never blocks. At start it asks the kernel for
// a dump of every link (RTM_GETLINK). Each batch of parsed events is handed to a JavaScript
// callback; every event carries the wall-clock time (ms, sub-ms precision) of its read.
// The same addon carries the heartbeat socket (datagrams.cc).
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "datagrams.h"
#include "nlparse.h"

namespace {

const char *OperstateName(uint8_t s) {
  static const char *names[] = {"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"};
  return s < 7 ? names[s] : "unknown";
}

double NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

Napi::Object ToJs(Napi::Env env, const nlp_link &l, double ts, bool dump) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ts", ts);
  o.Set("kind", l.deleted ? "del" : (dump ? "dump" : "new"));
  o.Set("ifindex", l.ifindex);
  // Interface names are bytes: decoded as Latin-1, the same as the TypeScript parser does.
  napi_value name = nullptr;
  if (l.has_ifname) napi_create_string_latin1(env, l.ifname, NAPI_AUTO_LENGTH, &name);
  o.Set("ifname", l.has_ifname ? Napi::Value(env, name) : env.Null());
  o.Set("flags", l.flags);
  o.Set("up", (l.flags & IFF_UP) != 0);
  const bool lowerUp = (l.flags & 0x10000u) != 0;  // IFF_LOWER_UP
  o.Set("carrier", l.has_carrier ? l.carrier != 0 : lowerUp);
  o.Set("operstate", l.has_operstate ? OperstateName(l.operstate) : "unknown");
  o.Set("changes", l.has_carrier_changes ? Napi::Value(Napi::Number::New(env, l.carrier_changes)) : env.Null());
  o.Set("mtu", l.has_mtu ? Napi::Value(Napi::Number::New(env, l.mtu)) : env.Null());
  std::string mac;
  char part[4];
  for (size_t i = 0; i < l.addr_len; i++) {
    snprintf(part, sizeof part, i ? ":%02x" : "%02x", l.addr[i]);
    mac += part;
  }
  o.Set("mac", l.addr_len ? Napi::Value(Napi::String::New(env, mac)) : env.Null());
  return o;
}

struct Collect {
  std::vector<nlp_link> links;
};

void CollectCb(const nlp_link *l, void *ctx) { static_cast<Collect *>(ctx)->links.push_back(*l); }

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Watcher", {InstanceMethod("close", &Watcher::Close), InstanceMethod("fd", &Watcher::Fd)});
  }

  explicit Watcher(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Watcher>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "Watcher(onEvents: (events, error?) => void)").ThrowAsJavaScriptException();
      return;
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) {
      Fail(env, "socket(AF_NETLINK)");
      return;
    }
    int rcvbuf = 1 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (bind(fd_, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa) < 0) {
      Fail(env, "bind(RTMGRP_LINK)");
      return;
    }
    if (!RequestDump()) {
      Fail(env, "send(RTM_GETLINK)");
      return;
    }
    uv_loop_t *loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    if (uv_poll_init(loop, poll_, fd_) != 0) {
      delete poll_;
      poll_ = nullptr;
      Fail(env, "uv_poll_init");
      return;
    }
    uv_poll_start(poll_, UV_READABLE, &Watcher::OnReadable);
    Ref();  // alive while polling, whatever JS holds
  }

  ~Watcher() override { Shutdown(); }

 private:
  void Fail(Napi::Env env, const char *what) {
    int e = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    Napi::Error::New(env, std::string(what) + ": " + strerror(e)).ThrowAsJavaScriptException();
  }

  bool RequestDump() {
    struct {
      struct nlmsghdr h;
      struct ifinfomsg i;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = ++seq_;
    req.i.ifi_family = AF_UNSPEC;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    dumping_ = true;
    return sendto(fd_, &req, sizeof req, 0, reinterpret_cast<struct sockaddr *>(&kernel), sizeof kernel) == (ssize_t)sizeof req;
  }

  static void OnReadable(uv_poll_t *handle, int status, int) {
    static_cast<Watcher *>(handle->data)->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    const double ts = NowMs();
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    std::string error;
    if (status < 0) error = std::string("poll: ") + uv_strerror(status);
    for (;;) {
      ssize_t got = recv(fd_, buf_, sizeof buf_, MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {  // the kernel dropped events: resynchronise with a new dump
          RequestDump();
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) error = std::string("recv: ") + strerror(errno);
        break;
      }
      if (got == 0) break;
      Collect c;
      nlp_result r = nlp_parse(buf_, (size_t)got, CollectCb, &c);
      for (const nlp_link &l : c.links) out.Set(n++, ToJs(env, l, ts, dumping_));
      if (r.done) dumping_ = false;
    }
    if (n == 0 && error.empty()) return;
    Napi::Value err = error.empty() ? env.Undefined() : Napi::Value(Napi::Error::New(env, error).Value());
    callback_.MakeCallback(Value(), {out, err});
  }

  Napi::Value Fd(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (Shutdown()) Unref();
    return info.Env().Undefined();
  }

  bool Shutdown() {
    bool was = poll_ != nullptr;
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return was;
  }

  Napi::FunctionReference callback_;
  int fd_ = -1;
  uv_poll_t *poll_ = nullptr;
  uint32_t seq_ = 0;
  bool dumping_ = false;
  uint8_t buf_[65536];
};

// parse(buffer): the C parser, exposed so that tests hold it to the same fixtures as the
// TypeScript parser of the ffi backend.
Napi::Value Parse(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    Napi::TypeError::New(env, "parse(buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  Collect c;
  nlp_result r = nlp_parse(b.Data(), b.Length(), CollectCb, &c);
  Napi::Array links = Napi::Array::New(env, c.links.size());
  for (size_t i = 0; i < c.links.size(); i++) links.Set((uint32_t)i, ToJs(env, c.links[i], 0, false));
  Napi::Object o = Napi::Object::New(env);
  o.Set("links", links);
  o.Set("done", r.done != 0);
  o.Set("error", r.error);
  o.Set("truncated", r.truncated != 0);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Watcher", Watcher::Init(env));
  exports.Set("parse", Napi::Function::New(env, Parse));
  InitDatagrams(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(infravisor_netlink, Init)
