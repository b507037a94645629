//! A child process measured as a whole: wall time, user + system CPU from `wait4`'s rusage
//! (what `/usr/bin/time -v` reports) and peak RSS, optionally inside a `LambdaCgroup`.
//!
//! Peak RSS is the child's own `VmHWM`, sampled while it runs, not rusage's `ru_maxrss`: a
//! child spawned by vfork or fork starts from the parent's memory map, and Linux carries that
//! map's high-water mark into `ru_maxrss` across `exec`, so every child of a 200 MB harness
//! "peaked" at 200 MB whatever it did itself.
//!
//! The child is reaped by its own thread, which is why `std::process::Child::wait` (no
//! rusage) is never used: the reaper owns the pid until it has exited, so a kill never hits
//! a reused pid.

use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::cgroup::LambdaCgroup;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Usage {
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    pub max_rss_kb: u64,
    /// Page faults served without I/O: a high count means memory handed back to the kernel
    /// and faulted in again (system CPU).
    pub minor_faults: u64,
    pub exit: Exit,
    /// The cgroup's peak memory (bytes), when it ran in one.
    pub cgroup_peak_bytes: Option<u64>,
    pub oom_killed: bool,
}

impl Usage {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

type Done = Arc<(Mutex<Option<Usage>>, Condvar)>;

pub struct Measured {
    pid: i32,
    done: Done,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

const HWM_SAMPLE: Duration = Duration::from_millis(5);

/// `VmHWM` of a live process, in kB.
fn vm_hwm_kb(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

impl Measured {
    /// Start `launch` with piped stdout/stderr, in `cgroup` if given (the child enters it
    /// before `exec`, so its whole life is limited and counted).
    pub fn spawn(launch: &Launch, cgroup: Option<LambdaCgroup>) -> std::io::Result<Self> {
        let mut cmd = match &cgroup {
            Some(cg) => {
                let [mem, cpu] = cg.task_files();
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(r#"echo $$ > "$1" && echo $$ > "$2" && shift 2 && exec "$0" "$@""#)
                    .arg(&launch.program)
                    .arg(mem)
                    .arg(cpu)
                    .args(&launch.args);
                c
            }
            None => {
                let mut c = Command::new(&launch.program);
                c.args(&launch.args);
                c
            }
        };
        cmd.env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // The reaper below waits for the pid; dropping `child` neither waits nor kills.
        drop(child);
        let done: Done = Arc::new((Mutex::new(None), Condvar::new()));
        let reaper_done = done.clone();
        std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || {
                let mut status = 0;
                // SAFETY: rusage is plain data, fully written by wait4 on success.
                let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
                let mut hwm_kb = 0u64;
                loop {
                    // SAFETY: waiting for our own child with valid out-pointers.
                    let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
                    if r == pid {
                        break;
                    }
                    if r == -1
                        && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                    {
                        break;
                    }
                    // Still running: its high-water mark so far (monotonic, so a sample every
                    // few milliseconds misses only what it grows in its last moments).
                    hwm_kb = hwm_kb.max(vm_hwm_kb(pid).unwrap_or(0));
                    std::thread::sleep(HWM_SAMPLE);
                }
                let exit = if libc::WIFSIGNALED(status) {
                    Exit::Signal(libc::WTERMSIG(status))
                } else {
                    Exit::Code(libc::WEXITSTATUS(status))
                };
                let usage = Usage {
                    wall: started.elapsed(),
                    user: timeval(ru.ru_utime),
                    sys: timeval(ru.ru_stime),
                    // Never sampled (it exited at once): rusage's figure, an upper bound.
                    max_rss_kb: if hwm_kb > 0 {
                        hwm_kb
                    } else {
                        ru.ru_maxrss.max(0) as u64
                    },
                    minor_faults: ru.ru_minflt.max(0) as u64,
                    exit,
                    cgroup_peak_bytes: cgroup.as_ref().and_then(LambdaCgroup::peak_bytes),
                    oom_killed: cgroup.as_ref().is_some_and(LambdaCgroup::oom_killed),
                };
                drop(cgroup);
                let (lock, cv) = &*reaper_done;
                *lock.lock().unwrap_or_else(|p| p.into_inner()) = Some(usage);
                cv.notify_all();
            })?;
        Ok(Self {
            pid,
            done,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn exited(&self) -> bool {
        self.done
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// SIGKILL, unless it has already exited.
    pub fn kill(&self) {
        let guard = self.done.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            // SAFETY: the pid is our unreaped child (the reaper stores the usage, under
            // this lock, only after reaping it).
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }

    /// The usage once it exits, waiting at most `timeout`.
    pub fn wait(&self, timeout: Duration) -> Option<Usage> {
        let (lock, cv) = &*self.done;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |u| u.is_none())
            .unwrap_or_else(|p| p.into_inner());
        guard.clone()
    }

    /// Kill and wait for the usage.
    pub fn finish(&self) -> Option<Usage> {
        self.kill();
        self.wait(Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_cpu_and_rss_of_a_child_and_its_kill() {
        let busy = Launch {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done".into(),
            ],
            env: vec![],
        };
        let m = Measured::spawn(&busy, None).unwrap();
        let u = m.wait(Duration::from_secs(30)).expect("exits");
        assert_eq!(u.exit, Exit::Code(0));
        assert!(u.cpu() > Duration::from_millis(20), "{u:?}");
        assert!(u.max_rss_kb > 100);

        let sleeper = Launch {
            program: "/bin/sleep".into(),
            args: vec!["30".into()],
            env: vec![],
        };
        let m = Measured::spawn(&sleeper, None).unwrap();
        let u = m.finish().unwrap();
        assert_eq!(u.exit, Exit::Signal(libc::SIGKILL));
        assert!(u.wall < Duration::from_secs(10));
    }
}
