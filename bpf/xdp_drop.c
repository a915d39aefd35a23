// The do-nothing reference of scripts/bench-live: drops every frame, the ceiling a filter
// at XDP can reach on the rig. Built with clang by the script (reference programs only: xdpfw
// emits its own eBPF). No headers: XDP_DROP is 1 in the kernel's enum xdp_action.
__attribute__((section("xdp"), used)) int xdp_drop(void *context) { return 1; }

char _license[] __attribute__((section("license"), used)) = "GPL";
