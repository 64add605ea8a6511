/*
 * Fuzz driver for nlparse.c, built with AddressSanitizer and UBSan by run.sh. Feeds the
 * parser random buffers, every truncation of a valid link message, and random mutations of
 * it. Each input is copied into a heap block of exactly its length, so any read past the end
 * is reported by ASan. With a file argument it parses that file (for reproducing a case).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/nlparse.h"

static unsigned long links_seen;
static void cb(const nlp_link *l, void *ctx) {
  (void)ctx;
  links_seen += (unsigned long)(l->ifname[0] + l->addr_len + l->mtu);
}

static void run(const uint8_t *data, size_t len) {
  uint8_t *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, data, len);
  nlp_parse(copy, len, cb, NULL);
  free(copy);
}

static size_t put_attr(uint8_t *p, uint16_t type, const void *data, uint16_t dlen) {
  uint16_t rlen = (uint16_t)(4 + dlen);
  memcpy(p, &rlen, 2);
  memcpy(p + 2, &type, 2);
  memcpy(p + 4, data, dlen);
  return (size_t)((rlen + 3) & ~3);
}

/* A realistic RTM_NEWLINK for "eth0", followed by NLMSG_DONE. */
static size_t valid_message(uint8_t *buf) {
  size_t off = 32;
  uint32_t mtu = 1500, changes = 3;
  uint8_t oper = 6, carrier = 1, mac[6] = {2, 0, 0, 0, 0, 1};
  off += put_attr(buf + off, 3, "eth0", 5);
  off += put_attr(buf + off, 4, &mtu, 4);
  off += put_attr(buf + off, 16, &oper, 1);
  off += put_attr(buf + off, 33, &carrier, 1);
  off += put_attr(buf + off, 35, &changes, 4);
  off += put_attr(buf + off, 1, mac, 6);
  off += put_attr(buf + off, 999, "unknown", 7);
  uint32_t len = (uint32_t)off;
  uint16_t type = 16, flags = 0;
  int32_t idx = 2;
  uint32_t ifflags = 0x11043;
  memset(buf, 0, 32);
  memcpy(buf, &len, 4);
  memcpy(buf + 4, &type, 2);
  memcpy(buf + 6, &flags, 2);
  memcpy(buf + 20, &idx, 4);
  memcpy(buf + 24, &ifflags, 4);
  uint32_t dlen = 20;
  uint16_t done = 3;
  memset(buf + off, 0, 20);
  memcpy(buf + off, &dlen, 4);
  memcpy(buf + off + 4, &done, 2);
  return off + 20;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-n") != 0) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    run(buf, n);
    return 0;
  }
  long iterations = argc > 2 ? atol(argv[2]) : 200000;
  uint8_t valid[512] = {0};
  size_t vlen = valid_message(valid);
  nlp_result r = nlp_parse(valid, vlen, cb, NULL);
  if (r.links != 1 || !r.done) {
    fprintf(stderr, "fuzz: the valid fixture did not parse (links=%d done=%d)\n", r.links, r.done);
    return 1;
  }
  for (size_t cut = 0; cut <= vlen; cut++) run(valid, cut); /* every truncation */
  srand(12345);
  uint8_t buf[4096] = {0};
  for (long i = 0; i < iterations; i++) {
    size_t len;
    if (i % 2 == 0) { /* mutate the valid message */
      len = vlen;
      memcpy(buf, valid, vlen);
      int flips = 1 + rand() % 8;
      for (int k = 0; k < flips; k++) buf[rand() % len] = (uint8_t)rand();
      if (rand() % 4 == 0) len = (size_t)rand() % (vlen + 1);
    } else { /* random bytes, with a plausible header now and then */
      len = (size_t)rand() % sizeof buf;
      for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rand();
      if (len >= 16 && rand() % 2) {
        uint32_t l = (uint32_t)(rand() % (len + 64));
        memcpy(buf, &l, 4);
      }
    }
    run(buf, len);
  }
  printf("fuzz: %ld inputs and %zu truncations parsed without a memory error (checksum %lu)\n", iterations, vlen + 1, links_seen);
  return 0;
}
