/*
 * A bounds-checked parser of rtnetlink link messages (RTM_NEWLINK / RTM_DELLINK).
 * Plain C with no dependencies, so that it can be fuzzed under AddressSanitizer on its own
 * (native/fuzz/). It never reads outside [buf, buf + len): truncated messages and
 * attributes end the walk, unknown attributes are skipped.
 */
#ifndef INFRAVISOR_NLPARSE_H
#define INFRAVISOR_NLPARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NLP_IFNAME_MAX 16
#define NLP_ADDR_MAX 32

typedef struct {
  int deleted;          /* RTM_DELLINK */
  int family;           /* ifi_family; AF_BRIDGE copies are skipped by nlp_parse */
  int32_t ifindex;
  uint32_t flags;       /* ifi_flags: IFF_UP, IFF_RUNNING, IFF_LOWER_UP, ... */
  char ifname[NLP_IFNAME_MAX];
  int has_ifname;
  uint32_t mtu;
  int has_mtu;
  uint8_t operstate;    /* IF_OPER_* */
  int has_operstate;
  uint8_t carrier;      /* IFLA_CARRIER */
  int has_carrier;
  uint32_t carrier_changes;
  int has_carrier_changes;
  uint8_t addr[NLP_ADDR_MAX];
  size_t addr_len;
} nlp_link;

typedef void (*nlp_link_cb)(const nlp_link *link, void *ctx);

typedef struct {
  int messages;   /* netlink messages walked */
  int links;      /* link messages delivered */
  int done;       /* NLMSG_DONE seen (end of a dump) */
  int error;      /* errno from an NLMSG_ERROR that is not an ACK, else 0 */
  int truncated;  /* the buffer ended inside a message */
} nlp_result;

nlp_result nlp_parse(const uint8_t *buf, size_t len, nlp_link_cb cb, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
