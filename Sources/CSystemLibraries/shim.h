#ifndef XDPFW_CSYSTEM_SHIM_H
#define XDPFW_CSYSTEM_SHIM_H
/* libbpf and libpcap in one module: two C modules that both pull in the same glibc headers
   clash in Swift ("not present in definition of fd_set"). */
/* No _GNU_SOURCE: it renames fd_set's field, and then any module that imports both this one and
   Glibc (Foundation, Synchronization, Dispatch) fails with "fds_bits ... not present in definition
   of fd_set". setns is declared by hand below instead. */
#include <sched.h>
#include <linux/sched.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
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
/* setns is only declared under _GNU_SOURCE, which Swift's Glibc module does not set. */
extern int setns(int fd, int nstype);
static inline int xdpfw_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }
static inline int xdpfw_errno(void) { return errno; }
#endif
