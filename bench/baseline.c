/*
 * C baseline for bench/rx-tx.mjs: the same work as pltap, with one syscall per frame and
 * nothing else. Built by the bench script with `cc -O2` into a temporary directory.
 *
 *   baseline tx  <ifname> <size> <seconds>   open a TAP, bring it up, write() <size>-byte
 *                                             frames in a loop for <seconds>
 *   baseline rx  <ifname>                    open a TAP, bring it up, print "ready", then
 *                                             poll() + nonblocking read() into one buffer
 *                                             until SIGTERM/SIGINT
 *   baseline gen <ifname> <size> <seconds>   AF_PACKET SOCK_RAW bound to <ifname>, flood
 *                                             frames with sendmmsg() in batches of 64
 *
 * Every command prints one JSON line on stdout when it ends. Frames go to 02:00:00:00:00:99
 * from 02:00:00:00:00:01 with EtherType 0x88b5 (local experimental), so the kernel drops them.
 * Only run it inside a private network namespace (npm run bench does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FRAME 65536

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void fill_frame(unsigned char *f, int size) {
  static const unsigned char dst[6] = {0x02, 0, 0, 0, 0, 0x99}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (int i = 14; i < size; i++) f[i] = (unsigned char)i;
}

/* Opens a nonblocking TAP (IFF_NO_PI) named `name` and brings it up. */
static int open_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS");
  close(s);
  return fd;
}

/* The kernel's counters of `ifname`, from /proc/net/dev (per network namespace, unlike
 * /sys/class/net, which shows the namespace sysfs was mounted in). */
static int read_dev_stats(const char *ifname, long long *tx_packets, long long *tx_dropped) {
  FILE *f = fopen("/proc/net/dev", "r");
  if (!f) return -1;
  char line[512];
  int found = -1;
  size_t len = strlen(ifname);
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (*p == ' ') p++;
    if (strncmp(p, ifname, len) != 0 || p[len] != ':') continue;
    long long v[16];
    if (sscanf(p + len + 1, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) == 16) {
      *tx_packets = v[9];
      *tx_dropped = v[11];
      found = 0;
    }
    break;
  }
  fclose(f);
  return found;
}

static int cmd_tx(const char *ifname, int size, double seconds) {
  int fd = open_tap(ifname);
  unsigned char frame[MAX_FRAME];
  fill_frame(frame, size);
  long long frames = 0, full = 0, errors = 0;
  double u0, s0, u1, s1;
  cpu(&u0, &s0);
  double t0 = now(), t1 = t0, end = t0 + seconds;
  for (;;) {
    for (int i = 0; i < BATCH; i++) { /* check the clock once per 64 writes, like the JS side */
      ssize_t n = write(fd, frame, size);
      if (n == size) frames++;
      else if (n < 0 && errno == EAGAIN) full++;
      else errors++;
    }
    if ((t1 = now()) >= end) break;
  }
  cpu(&u1, &s1);
  printf("{\"frames\":%lld,\"bytes\":%lld,\"full\":%lld,\"errors\":%lld,\"seconds\":%.6f,\"cpuUser\":%.6f,\"cpuSys\":%.6f}\n",
         frames, frames * size, full, errors, t1 - t0, u1 - u0, s1 - s0);
  close(fd);
  return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int cmd_rx(const char *ifname) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int fd = open_tap(ifname);
  static unsigned char buf[MAX_FRAME];
  long long frames = 0, bytes = 0, polls = 0;
  double first = 0, last = 0;
  printf("ready\n");
  fflush(stdout);
  double u0, s0, u1, s1;
  cpu(&u0, &s0);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (!stop) {
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    polls++;
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN) break;
        if (errno == EINTR) continue;
        die("read");
      }
      frames++;
      bytes += n;
    }
    last = now();
    if (first == 0) first = last;
  }
  cpu(&u1, &s1);
  /* The tap's kernel counters: tx = frames the kernel queued to this reader; tx_dropped =
   * frames it dropped because the queue was full. */
  long long tx_packets = -1, tx_dropped = -1;
  read_dev_stats(ifname, &tx_packets, &tx_dropped);
  printf("{\"frames\":%lld,\"bytes\":%lld,\"polls\":%lld,\"activeSeconds\":%.6f,\"cpuUser\":%.6f,\"cpuSys\":%.6f,"
         "\"kernelTxPackets\":%lld,\"kernelTxDropped\":%lld}\n",
         frames, bytes, polls, last - first, u1 - u0, s1 - s0, tx_packets, tx_dropped);
  fflush(stdout);
  close(fd);
  return 0;
}

static int cmd_gen(const char *ifname, int size, double seconds) {
  int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: send only, receive nothing */
  if (s < 0) die("socket(AF_PACKET)");
  int one = 1;
  if (setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) die("PACKET_QDISC_BYPASS");
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) die("SIOCGIFINDEX");
  sll.sll_ifindex = ifr.ifr_ifindex;
  if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind");
  static unsigned char frame[MAX_FRAME];
  fill_frame(frame, size);
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = frame;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long long sent = 0, refused = 0, calls = 0;
  double u0, s0, u1, s1;
  cpu(&u0, &s0);
  double t0 = now(), t1 = t0, end = t0 + seconds;
  while ((t1 = now()) < end) {
    int i = 0;
    while (i < BATCH) {
      int r = sendmmsg(s, msgs + i, BATCH - i, 0);
      calls++;
      if (r > 0) {
        sent += r;
        i += r;
      } else if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
        refused++; /* the device's queue was full: this frame was dropped */
        i++;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else {
        die("sendmmsg");
      }
    }
  }
  cpu(&u1, &s1);
  printf("{\"sent\":%lld,\"refused\":%lld,\"calls\":%lld,\"seconds\":%.6f,\"cpuUser\":%.6f,\"cpuSys\":%.6f}\n", sent,
         refused, calls, t1 - t0, u1 - u0, s1 - s0);
  close(s);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 5 && strcmp(argv[1], "tx") == 0) return cmd_tx(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 3 && strcmp(argv[1], "rx") == 0) return cmd_rx(argv[2]);
  if (argc == 5 && strcmp(argv[1], "gen") == 0) return cmd_gen(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: baseline tx IFNAME SIZE SECONDS | rx IFNAME | gen IFNAME SIZE SECONDS\n");
  return 2;
}
