#ifndef XDPFW_CSYSTEM_SHIM_H
#define XDPFW_CSYSTEM_SHIM_H
/* libbpf and libpcap in one module: two C modules that both pull in the same glibc headers
   clash in Swift ("not present in definition of fd_set"). */
/* Do NOT define _GNU_SOURCE here: it renames fd_set's member (fds_bits vs __fds_bits) and the
   module then clashes with Glibc/Dispatch as soon as Foundation or XCTest is imported beside it. */
#include <sched.h>
#include <linux/sched.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <linux/magic.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* libpcap's struct bpf_insn/bpf_program clash with the kernel's (linux/bpf.h): rename them. */
#define bpf_insn pcap_bpf_insn
#define bpf_program pcap_bpf_program
#include <pcap/pcap.h>
#undef bpf_insn
#undef bpf_program

/* syscall() is variadic and cannot be called from Swift. */
static inline long xdpfw_bpf_syscall(int cmd, void *attr, unsigned int size) {
    return syscall(__NR_bpf, cmd, attr, size);
}
/* setns needs _GNU_SOURCE, which must not be defined here (see above): declare it ourselves. */
extern int setns(int fd, int nstype);
#define XDPFW_CLONE_NEWNET 0x40000000
static inline int xdpfw_setns_net(int fd) { return setns(fd, XDPFW_CLONE_NEWNET); }
static inline int xdpfw_errno(void) { return errno; }
/* membarrier(MEMBARRIER_CMD_GLOBAL) returns after an RCU grace period: every BPF program run
   that started before the call (XDP and TC run inside RCU read-side sections) has finished.
   -1 with EINVAL on nohz_full kernels, which do not offer it. */
#define XDPFW_MEMBARRIER_CMD_GLOBAL 1
static inline int xdpfw_wait_for_rcu_grace_period(void) {
    return (int)syscall(__NR_membarrier, XDPFW_MEMBARRIER_CMD_GLOBAL, 0, 0);
}
/* ioctl() is variadic too: an interface's MTU in the current network namespace (SIOCGIFMTU),
   or -errno. */
static inline int xdpfw_interface_mtu(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(fd, SIOCGIFMTU, &request) < 0 ? -errno : request.ifr_mtu;
    close(fd);
    return result;
}
/* open() is variadic too. */
static inline int xdpfw_open_read_only(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }
#endif
