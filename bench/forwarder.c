// The C baseline of the bridge benchmark (bench/bridge.mjs): a single-threaded two-port
// forwarder between two TAP or TUN devices, poll() + read()/write(), nothing else.
//
//   forwarder tap  <ifA> <ifB>   TAP, IFF_NO_PI, one read and one write per frame
//   forwarder tun  <ifA> <ifB>   TUN, IFF_NO_PI, IP packets
//   forwarder vnet <ifA> <ifB>   TAP with IFF_VNET_HDR, TUNSETVNETHDRSZ 10 and TUNSETOFFLOAD
//                                CSUM|TSO4|TSO6|TSO_ECN: the kernel hands over 64 KiB
//                                super-frames with their virtio-net header, written to the
//                                other side untouched
//
// Prints "forwarder: ready <ifA> <ifB>" on stderr once both devices are open, runs until
// SIGINT/SIGTERM, then prints its counters as JSON on stdout. Built by the harness with
// cc -O2 into a temporary directory.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BURST 64

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct dir { uint64_t frames, bytes, dropped, errors, reads; };

static int open_dev(const char *name, int mode) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); exit(1); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_NO_PI | (mode == 1 ? IFF_TUN : IFF_TAP) | (mode == 2 ? IFF_VNET_HDR : 0);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
  if (mode == 2) {
    int sz = 10;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) { perror("TUNSETVNETHDRSZ"); exit(1); }
    unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (ioctl(fd, TUNSETOFFLOAD, off) < 0) { perror("TUNSETOFFLOAD"); exit(1); }
  }
  return fd;
}

// Reads up to BURST frames from `in` and writes each to `out`.
static void forward(int in, int out, struct dir *d, unsigned char *buf, size_t cap) {
  for (int i = 0; i < BURST; i++) {
    ssize_t n = read(in, buf, cap);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) d->errors++;
      return;
    }
    d->reads++;
    ssize_t w = write(out, buf, (size_t)n);
    if (w == n) {
      d->frames++;
      d->bytes += (uint64_t)n;
    } else if (w < 0 && errno == EAGAIN) {
      d->dropped++;
    } else {
      d->errors++;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: forwarder tap|tun|vnet <ifA> <ifB>\n"); return 2; }
  int mode = !strcmp(argv[1], "tap") ? 0 : !strcmp(argv[1], "tun") ? 1 : !strcmp(argv[1], "vnet") ? 2 : -1;
  if (mode < 0) { fprintf(stderr, "forwarder: unknown mode %s\n", argv[1]); return 2; }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; // no SA_RESTART: poll() returns EINTR
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int a = open_dev(argv[2], mode), b = open_dev(argv[3], mode);
  size_t cap = 65536 + 64;
  unsigned char *buf = malloc(cap);
  if (!buf) return 1;
  fprintf(stderr, "forwarder: ready %s %s\n", argv[2], argv[3]);
  struct dir ab = {0}, ba = {0};
  struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  while (!stop) {
    int r = poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (p[0].revents & POLLIN) forward(a, b, &ab, buf, cap);
    if (p[1].revents & POLLIN) forward(b, a, &ba, buf, cap);
    if ((p[0].revents | p[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) {
      fprintf(stderr, "forwarder: device error\n");
      return 1;
    }
  }
  printf("{\"mode\":\"%s\",\"forwarded\":%llu,\"dropped\":%llu,\"errors\":%llu,\"directions\":{"
         "\"%s>%s\":{\"frames\":%llu,\"bytes\":%llu,\"reads\":%llu,\"dropped\":%llu,\"errors\":%llu},"
         "\"%s>%s\":{\"frames\":%llu,\"bytes\":%llu,\"reads\":%llu,\"dropped\":%llu,\"errors\":%llu}}}\n",
         argv[1], (unsigned long long)(ab.frames + ba.frames), (unsigned long long)(ab.dropped + ba.dropped),
         (unsigned long long)(ab.errors + ba.errors), argv[2], argv[3], (unsigned long long)ab.frames,
         (unsigned long long)ab.bytes, (unsigned long long)ab.reads, (unsigned long long)ab.dropped,
         (unsigned long long)ab.errors, argv[3], argv[2], (unsigned long long)ba.frames, (unsigned long long)ba.bytes,
         (unsigned long long)ba.reads, (unsigned long long)ba.dropped, (unsigned long long)ba.errors);
  return 0;
}
