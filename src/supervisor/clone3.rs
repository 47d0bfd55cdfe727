//! `clone3` for the spawn: the same child as `libc::clone` makes (`CLONE_VM | CLONE_VFORK`, on a
//! stack of its own, running `child(argument)`), born straight into its program's cgroup
//! (`CLONE_INTO_CGROUP`, Linux 5.7).
//!
//! Why not let the child move itself (a write of `0` to `cgroup.procs`, which is what happens
//! where this is not available): a move takes the kernel's cgroup threadgroup lock for writing,
//! which waits for an RCU grace period. Measured here, with one spawn every 150 ms (a restart
//! after a crash): clone → exec took 9.9 ms with the move against 0.4 ms born inside
//! (docs/PERFORMANCE.md). Bursts hide it (the lock stays cheap for a while after a writer).
//!
//! glibc has no `clone3` wrapper, and a raw `syscall(SYS_clone3)` cannot be used with a shared
//! address space: the child would return from the system call on its new, empty stack. So the
//! call is a few instructions of assembly, as in glibc's own `clone`: the child, on its stack,
//! calls the function and exits with what it returns; the parent returns the pid. For
//! x86-64 and AArch64; elsewhere, and where the kernel or a seccomp profile refuses `clone3`
//! (Docker's default answers ENOSYS), [`clone_into`] says so and the spawn falls back.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

/// `struct clone_args` of `<linux/sched.h>`, up to `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// False once the kernel refused `clone3` or `CLONE_INTO_CGROUP`: not asked again.
static AVAILABLE: AtomicBool =
    AtomicBool::new(cfg!(any(target_arch = "x86_64", target_arch = "aarch64")));

/// The child's entry point: what `libc::clone` takes.
pub type Entry = extern "C" fn(*mut libc::c_void) -> libc::c_int;

/// Clones with `flags` (`CLONE_VM | CLONE_VFORK`, maybe `CLONE_FILES`; `SIGCHLD` at exit)
/// into the cgroup whose folder `cgroup` is open, the child running `entry(argument)` on
/// `stack`. `Ok(pid)`; `Err(None)` when `clone3` cannot be used here (call `libc::clone` and
/// join the cgroup another way); `Err(Some(errno))` when the clone itself failed.
///
/// # Safety
/// As for `libc::clone` with `CLONE_VM | CLONE_VFORK`: `entry` must make only system calls on
/// memory that stays valid until the child execs or exits (the caller is suspended until then),
/// and `stack` must stay alive as long.
pub unsafe fn clone_into(
    flags: libc::c_int,
    stack: &mut [MaybeUninit<u8>],
    cgroup: libc::c_int,
    entry: Entry,
    argument: *mut libc::c_void,
) -> Result<libc::pid_t, Option<libc::c_int>> {
    if !AVAILABLE.load(Ordering::Relaxed) {
        return Err(None);
    }
    // The stack grows down from its top, which must be 16-byte aligned.
    let base = stack.as_mut_ptr() as usize;
    let top = (base + stack.len()) & !15;
    let exit_signal = (flags & 0xff) as u64;
    let args = CloneArgs {
        flags: (flags as u32 as u64 & !0xff) | CLONE_INTO_CGROUP,
        exit_signal,
        stack: base as u64,
        stack_size: (top - base) as u64,
        cgroup: u64::try_from(cgroup).unwrap_or(u64::MAX),
        ..CloneArgs::default()
    };
    // SAFETY: the caller's contract; `args` lives across the call.
    let result = unsafe { raw_clone3(&args, entry, argument) };
    if result >= 0 {
        return libc::pid_t::try_from(result).map_err(|_| Some(libc::EINVAL));
    }
    let errno = libc::c_int::try_from(-result).unwrap_or(libc::EINVAL);
    match errno {
        // No clone3 (before 5.3, or a seccomp profile), no CLONE_INTO_CGROUP (before 5.7), a
        // struct size it does not know.
        libc::ENOSYS | libc::E2BIG | libc::EINVAL | libc::EPERM => {
            tracing::info!(
                errno,
                "clone3 with CLONE_INTO_CGROUP is refused here; children join their cgroup after the clone"
            );
            AVAILABLE.store(false, Ordering::Relaxed);
            Err(None)
        }
        _ => Err(Some(errno)),
    }
}

/// The system call, and the child's call of `entry` on its own stack. Returns the pid or
/// `-errno` (never returns in the child).
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(args: &CloneArgs, entry: Entry, argument: *mut libc::c_void) -> i64 {
    let result: i64;
    // SAFETY: Linux's x86-64 system-call convention (number and result in rax; rcx and r11
    // clobbered). In the child (rax = 0) the stack pointer is the new stack's top, 16-byte
    // aligned, as `call` wants it; it calls `entry(argument)` (kept in r12/r13, which the
    // system call preserves) and exits with its result, never coming back here. In the parent
    // nothing but rax, rcx and r11 changes.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, 60", // SYS_exit
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => result,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") argument,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw_clone3(args: &CloneArgs, entry: Entry, argument: *mut libc::c_void) -> i64 {
    let result: i64;
    // SAFETY: Linux's AArch64 system-call convention (number in x8, arguments and result in
    // x0/x1, nothing else clobbered). In the child (x0 = 0) the stack pointer is the new
    // stack's top, 16-byte aligned; it calls `entry(argument)` (kept in x20/x21, preserved by
    // the system call) and exits with its result, never coming back here.
    unsafe {
        std::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x0, x20",
            "blr x21",
            "mov x8, #93", // SYS_exit
            "svc #0",
            "brk #0",
            "2:",
            inlateout("x0") args as *const CloneArgs => result,
            in("x1") std::mem::size_of::<CloneArgs>(),
            in("x8") libc::SYS_clone3,
            in("x20") argument,
            in("x21") entry,
            options(nostack),
        );
    }
    result
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw_clone3(_: &CloneArgs, _: Entry, _: *mut libc::c_void) -> i64 {
    -i64::from(libc::ENOSYS)
}
