// The seccomp policy of every process in a box: system calls that let code leave or attack
// the box are refused with EPERM (clone3 with ENOSYS, so libc falls back to clone, whose
// namespace flags the filter can see).
#pragma once

#include <sched.h>
#include <seccomp.h>

#include <cerrno>

namespace sandboxes {

inline scmp_filter_ctx make_seccomp_policy() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return nullptr;
  const int denied[] = {
      SCMP_SYS(ptrace),
      SCMP_SYS(process_vm_readv),
      SCMP_SYS(process_vm_writev),
      SCMP_SYS(mount),
      SCMP_SYS(umount2),
      SCMP_SYS(pivot_root),
      SCMP_SYS(chroot),
      SCMP_SYS(fsopen),
      SCMP_SYS(fsconfig),
      SCMP_SYS(fsmount),
      SCMP_SYS(fspick),
      SCMP_SYS(move_mount),
      SCMP_SYS(open_tree),
      SCMP_SYS(mount_setattr),
      SCMP_SYS(init_module),
      SCMP_SYS(finit_module),
      SCMP_SYS(delete_module),
      SCMP_SYS(kexec_load),
      SCMP_SYS(kexec_file_load),
      SCMP_SYS(add_key),
      SCMP_SYS(request_key),
      SCMP_SYS(keyctl),
      SCMP_SYS(bpf),
      SCMP_SYS(perf_event_open),
      SCMP_SYS(unshare),
      SCMP_SYS(setns),
      SCMP_SYS(userfaultfd),
      SCMP_SYS(open_by_handle_at),
      SCMP_SYS(name_to_handle_at),
      SCMP_SYS(reboot),
      SCMP_SYS(swapon),
      SCMP_SYS(swapoff),
      SCMP_SYS(syslog),
      SCMP_SYS(acct),
      SCMP_SYS(quotactl),
      SCMP_SYS(lookup_dcookie),
      SCMP_SYS(iopl),
      SCMP_SYS(ioperm),
      SCMP_SYS(settimeofday),
      SCMP_SYS(clock_settime),
      SCMP_SYS(adjtimex),
      SCMP_SYS(clock_adjtime),
      SCMP_SYS(vhangup),
      SCMP_SYS(nfsservctl),
      SCMP_SYS(personality),
  };
  int rc = 0;
  for (int sc : denied) rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sc, 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // Rules of one system call are or-ed: clone with any namespace flag is refused.
  for (unsigned long flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                             CLONE_NEWNET, CLONE_NEWCGROUP}) {
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
  }
  // TIOCSTI pushes input into a terminal outside the box.
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0x5412u /* TIOCSTI */));
  if (rc != 0) {
    seccomp_release(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace sandboxes
