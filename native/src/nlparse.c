#include "nlparse.h"

#include <string.h>

/* Wire constants, from the kernel's uapi headers (stable ABI). */
#define NLMSG_HDRLEN_ 16u
#define IFINFOMSG_LEN_ 16u
#define RTA_HDRLEN_ 4u
#define NLMSG_NOOP_ 1
#define NLMSG_ERROR_ 2
#define NLMSG_DONE_ 3
#define RTM_NEWLINK_ 16
#define RTM_DELLINK_ 17
#define AF_UNSPEC_ 0
#define IFLA_ADDRESS_ 1
#define IFLA_IFNAME_ 3
#define IFLA_MTU_ 4
#define IFLA_OPERSTATE_ 16
#define IFLA_CARRIER_ 33
#define IFLA_CARRIER_CHANGES_ 35
#define NLA_TYPE_MASK_ 0x3fffu

static size_t align4(size_t n) { return (n + 3u) & ~(size_t)3u; }

static uint32_t rd_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t rd_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static int32_t rd_i32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

static void parse_attrs(const uint8_t *p, size_t len, nlp_link *l) {
  size_t off = 0;
  while (len - off >= RTA_HDRLEN_) {
    uint16_t rta_len = rd_u16(p + off);
    uint16_t rta_type = rd_u16(p + off + 2) & NLA_TYPE_MASK_;
    if (rta_len < RTA_HDRLEN_ || rta_len > len - off) return; /* truncated attribute: stop */
    const uint8_t *data = p + off + RTA_HDRLEN_;
    size_t dlen = rta_len - RTA_HDRLEN_;
    switch (rta_type) {
      case IFLA_IFNAME_: {
        size_t n = 0;
        while (n < dlen && n < NLP_IFNAME_MAX - 1 && data[n] != 0) n++;
        memcpy(l->ifname, data, n);
        l->ifname[n] = 0;
        l->has_ifname = 1;
        break;
      }
      case IFLA_MTU_:
        if (dlen >= 4) { l->mtu = rd_u32(data); l->has_mtu = 1; }
        break;
      case IFLA_OPERSTATE_:
        if (dlen >= 1) { l->operstate = data[0]; l->has_operstate = 1; }
        break;
      case IFLA_CARRIER_:
        if (dlen >= 1) { l->carrier = data[0]; l->has_carrier = 1; }
        break;
      case IFLA_CARRIER_CHANGES_:
        if (dlen >= 4) { l->carrier_changes = rd_u32(data); l->has_carrier_changes = 1; }
        break;
      case IFLA_ADDRESS_:
        l->addr_len = dlen < NLP_ADDR_MAX ? dlen : NLP_ADDR_MAX;
        memcpy(l->addr, data, l->addr_len);
        break;
      default:
        break; /* unknown attribute: skipped */
    }
    size_t step = align4(rta_len);
    if (step > len - off) return;
    off += step;
  }
}

nlp_result nlp_parse(const uint8_t *buf, size_t len, nlp_link_cb cb, void *ctx) {
  nlp_result r;
  memset(&r, 0, sizeof r);
  size_t off = 0;
  while (buf != NULL && len - off >= NLMSG_HDRLEN_) {
    const uint8_t *h = buf + off;
    uint32_t mlen = rd_u32(h);
    uint16_t type = rd_u16(h + 4);
    if (mlen < NLMSG_HDRLEN_ || mlen > len - off) { r.truncated = 1; break; }
    r.messages++;
    if (type == NLMSG_DONE_) {
      r.done = 1;
    } else if (type == NLMSG_ERROR_) {
      if (mlen >= NLMSG_HDRLEN_ + 4) {
        int32_t err = rd_i32(h + NLMSG_HDRLEN_);
        if (err != 0) r.error = -err;
      }
    } else if ((type == RTM_NEWLINK_ || type == RTM_DELLINK_) && mlen >= NLMSG_HDRLEN_ + IFINFOMSG_LEN_) {
      const uint8_t *ifi = h + NLMSG_HDRLEN_;
      nlp_link l;
      memset(&l, 0, sizeof l);
      l.deleted = type == RTM_DELLINK_;
      l.family = ifi[0];
      l.ifindex = rd_i32(ifi + 4);
      l.flags = rd_u32(ifi + 8);
      parse_attrs(ifi + IFINFOMSG_LEN_, mlen - NLMSG_HDRLEN_ - IFINFOMSG_LEN_, &l);
      if (l.family == AF_UNSPEC_) { /* bridge copies (AF_BRIDGE) are not link state */
        r.links++;
        if (cb) cb(&l, ctx);
      }
    }
    size_t step = align4(mlen);
    if (step > len - off) break;
    off += step;
  }
  return r;
}
