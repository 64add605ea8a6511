// N-API: the heartbeat socket (UDP) without an event-loop wake-up per datagram. The liveness
// shell calls drain() once per heartbeat tick: recvmmsg(MSG_DONTWAIT) takes everything that
// arrived since the last tick, each datagram with the kernel's receive time (SO_TIMESTAMPNS),
// returned as its age in ms so that the caller's clock places it exactly. send() hands a tick's
// heartbeats to the kernel in one sendmmsg. Nothing here parses a datagram: the checks (size,
// magic, MAC) stay in TypeScript (agent/src/liveness/packet.ts).
#include <napi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "datagrams.h"

namespace {

constexpr unsigned kBatch = 64;      // datagrams per recvmmsg call
constexpr size_t kSlot = 512;        // bytes kept per datagram; larger ones are flagged truncated
constexpr unsigned kMaxDrain = 4096; // per drain(): the rest waits for the next tick

double RealtimeMs(const struct timespec &ts) { return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6; }

double NowRealtimeMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return RealtimeMs(ts);
}

bool ParseAddress(const std::string &text, uint16_t port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  auto *v4 = reinterpret_cast<struct sockaddr_in *>(out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return true;
  }
  auto *v6 = reinterpret_cast<struct sockaddr_in6 *>(out);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

void Describe(const struct sockaddr_storage &sa, std::string *address, uint16_t *port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (sa.ss_family == AF_INET) {
    const auto *v4 = reinterpret_cast<const struct sockaddr_in *>(&sa);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    *port = ntohs(v4->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    const auto *v6 = reinterpret_cast<const struct sockaddr_in6 *>(&sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    *port = ntohs(v6->sin6_port);
  } else {
    *port = 0;
  }
  *address = text;
}

class Datagrams : public Napi::ObjectWrap<Datagrams> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Datagrams", {InstanceMethod("send", &Datagrams::Send), InstanceMethod("drain", &Datagrams::Drain), InstanceMethod("close", &Datagrams::Close)});
  }

  // new Datagrams(address, port): a non-blocking UDP socket bound there (no SO_REUSEADDR: a
  // second agent on the same address and port fails, as with node:dgram's exclusive bind).
  explicit Datagrams(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Datagrams>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "Datagrams(address: string, port: number)").ThrowAsJavaScriptException();
      return;
    }
    struct sockaddr_storage sa;
    socklen_t len = 0;
    const uint32_t port = info[1].As<Napi::Number>().Uint32Value();
    if (port > 65535 || !ParseAddress(info[0].As<Napi::String>().Utf8Value(), (uint16_t)port, &sa, &len)) {
      Napi::TypeError::New(env, "Datagrams: not an IP address and port").ThrowAsJavaScriptException();
      return;
    }
    fd_ = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd_ < 0) Fail(env, "socket");
    else if (setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) Fail(env, "setsockopt(SO_TIMESTAMPNS)");
    else if (bind(fd_, reinterpret_cast<struct sockaddr *>(&sa), len) < 0) Fail(env, "bind");
  }

  ~Datagrams() override {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  void Fail(Napi::Env env, const char *what) {
    const int e = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    Napi::Error err = Napi::Error::New(env, std::string(what) + ": " + strerror(e));
    err.Set("code", Napi::String::New(env, e == EADDRINUSE ? "EADDRINUSE" : e == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : e == EACCES ? "EACCES" : "ESOCKET"));
    err.ThrowAsJavaScriptException();
  }

  // send(buffers, addresses, ports): one sendmmsg for the batch. Returns how many went out; a
  // full socket buffer (EAGAIN) drops the rest, as a lost datagram would.
  Napi::Value Send(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, 0);
    if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray()) {
      Napi::TypeError::New(env, "send(buffers: Buffer[], addresses: string[], ports: number[])").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array bufs = info[0].As<Napi::Array>(), addrs = info[1].As<Napi::Array>(), ports = info[2].As<Napi::Array>();
    const uint32_t n = bufs.Length();
    if (addrs.Length() != n || ports.Length() != n) {
      Napi::TypeError::New(env, "send: buffers, addresses and ports differ in length").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::vector<struct mmsghdr> msgs(n);
    std::vector<struct iovec> iov(n);
    std::vector<struct sockaddr_storage> to(n);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value b = bufs.Get(i), a = addrs.Get(i), p = ports.Get(i);
      if (!b.IsBuffer() || !a.IsString() || !p.IsNumber()) continue;
      socklen_t len = 0;
      const uint32_t port = p.As<Napi::Number>().Uint32Value();
      if (port > 65535 || !ParseAddress(a.As<Napi::String>().Utf8Value(), (uint16_t)port, &to[m], &len)) continue;
      Napi::Buffer<uint8_t> buf = b.As<Napi::Buffer<uint8_t>>();
      iov[m].iov_base = buf.Data();
      iov[m].iov_len = buf.Length();
      memset(&msgs[m], 0, sizeof msgs[m]);
      msgs[m].msg_hdr.msg_name = &to[m];
      msgs[m].msg_hdr.msg_namelen = len;
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
      m++;
    }
    uint32_t sent = 0;
    while (sent < m) {
      int r = sendmmsg(fd_, msgs.data() + sent, m - sent, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        // One bad destination (unreachable, refused by a firewall) must not hold back the rest.
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          sent++;
          continue;
        }
        break;
      }
      sent += (uint32_t)r;
    }
    return Napi::Number::New(env, sent);
  }

  // drain(): every datagram waiting, as {data, address, port, ageMs, truncated}. Never blocks.
  Napi::Value Drain(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (fd_ < 0) return out;
    struct mmsghdr msgs[kBatch];
    struct iovec iov[kBatch];
    struct sockaddr_storage from[kBatch];
    alignas(struct cmsghdr) char control[kBatch][CMSG_SPACE(sizeof(struct timespec))];
    uint32_t n = 0;
    while (n < kMaxDrain) {
      for (unsigned i = 0; i < kBatch; i++) {
        memset(&msgs[i], 0, sizeof msgs[i]);
        iov[i].iov_base = slots_ + i * kSlot;
        iov[i].iov_len = kSlot;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof control[i];
      }
      int r = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (r < 0) {
        if (errno == EINTR) continue;
        break;  // EAGAIN: nothing more; other errors (ICMP errors queued on the socket) end this drain
      }
      const double now = NowRealtimeMs();
      for (int i = 0; i < r; i++) {
        double age = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            age = now - RealtimeMs(ts);
          }
        }
        std::string address;
        uint16_t port = 0;
        Describe(from[i], &address, &port);
        const size_t len = msgs[i].msg_len > kSlot ? kSlot : msgs[i].msg_len;
        Napi::Object d = Napi::Object::New(env);
        d.Set("data", Napi::Buffer<uint8_t>::Copy(env, slots_ + i * kSlot, len));
        d.Set("address", address);
        d.Set("port", port);
        d.Set("ageMs", age < 0 ? 0 : age);
        d.Set("truncated", (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
        out.Set(n++, d);
      }
      if ((unsigned)r < kBatch) break;
    }
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uint8_t slots_[kBatch * kSlot];
};

}  // namespace

void InitDatagrams(Napi::Env env, Napi::Object exports) { exports.Set("Datagrams", Datagrams::Init(env)); }
