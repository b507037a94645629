//! A cgroup (v1) that gives a process what a Lambda function of a memory size gets: that much
//! memory (the OOM killer ends it above) and CPU in proportion, `size / 1769` of one core
//! (AWS: "at 1,769 MB, a function has the equivalent of one vCPU"). A CPU-bound run is then as
//! slow here as in Lambda, and a run that needs more memory dies as it would there.
//!
//! Created under this process's own cgroups, so whatever limits the machine imposes still
//! hold. Where cgroups are not writable, `create` says why and the caller runs unlimited.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Memory size that buys one full vCPU.
pub const MB_PER_VCPU: f64 = 1769.0;
const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug)]
pub struct LambdaCgroup {
    memory_dir: PathBuf,
    cpu_dir: PathBuf,
    pub memory_mb: u32,
}

/// `/sys/fs/cgroup/<mount>/<own path>` for the v1 controller `controller`.
fn own_dir(controller: &str) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if controllers.split(',').any(|c| c == controller) {
            for mount in [controller.to_string(), controllers.to_string()] {
                let base = Path::new("/sys/fs/cgroup").join(&mount);
                if base.is_dir() {
                    return Ok(base.join(path.trim_start_matches('/')));
                }
            }
        }
    }
    Err(format!("no cgroup v1 `{controller}` hierarchy"))
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {}: {e}", path.display()))
}

impl LambdaCgroup {
    /// A fresh cgroup pair (memory, cpu) sized like a `memory_mb` Lambda function.
    pub fn create(memory_mb: u32) -> Result<Self, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "cq-lambda-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let memory_dir = own_dir("memory")?.join(&name);
        let cpu_dir = own_dir("cpu")?.join(&name);
        std::fs::create_dir(&memory_dir)
            .map_err(|e| format!("creating {}: {e}", memory_dir.display()))?;
        if let Err(e) = std::fs::create_dir(&cpu_dir) {
            let _ = std::fs::remove_dir(&memory_dir);
            return Err(format!("creating {}: {e}", cpu_dir.display()));
        }
        let cg = Self {
            memory_dir,
            cpu_dir,
            memory_mb,
        };
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        write(
            &cg.memory_dir.join("memory.limit_in_bytes"),
            &bytes.to_string(),
        )?;
        // No swap either (Lambda has none); absent when the kernel has no swap accounting.
        let _ = write(
            &cg.memory_dir.join("memory.memsw.limit_in_bytes"),
            &bytes.to_string(),
        );
        let quota = (CPU_PERIOD_US as f64 * f64::from(memory_mb) / MB_PER_VCPU).round() as u64;
        write(
            &cg.cpu_dir.join("cpu.cfs_period_us"),
            &CPU_PERIOD_US.to_string(),
        )?;
        write(
            &cg.cpu_dir.join("cpu.cfs_quota_us"),
            &quota.max(1_000).to_string(),
        )?;
        Ok(cg)
    }

    /// The files a process writes its pid to, to enter this cgroup.
    pub fn task_files(&self) -> [PathBuf; 2] {
        [self.memory_dir.join("tasks"), self.cpu_dir.join("tasks")]
    }

    /// Share of one core the quota allows.
    pub fn cpu_share(&self) -> f64 {
        f64::from(self.memory_mb) / MB_PER_VCPU
    }

    /// Highest memory use of the cgroup (bytes), as Lambda's "Max Memory Used".
    pub fn peak_bytes(&self) -> Option<u64> {
        std::fs::read_to_string(self.memory_dir.join("memory.max_usage_in_bytes"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether the OOM killer ended a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        std::fs::read_to_string(self.memory_dir.join("memory.oom_control"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .is_some_and(|n| n > 0)
    }
}

impl Drop for LambdaCgroup {
    fn drop(&mut self) {
        // Empty once its processes have exited; a leftover is harmless and named by pid.
        let _ = std::fs::remove_dir(&self.memory_dir);
        let _ = std::fs::remove_dir(&self.cpu_dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_gets_the_lambda_proportions_or_says_why_not() {
        match LambdaCgroup::create(512) {
            Ok(cg) => {
                let quota = std::fs::read_to_string(cg.cpu_dir.join("cpu.cfs_quota_us")).unwrap();
                assert_eq!(quota.trim(), "28943");
                let limit =
                    std::fs::read_to_string(cg.memory_dir.join("memory.limit_in_bytes")).unwrap();
                assert_eq!(limit.trim(), (512u64 << 20).to_string());
                assert!((cg.cpu_share() - 0.2894).abs() < 0.001);
            }
            Err(why) => {
                assert!(!why.is_empty());
                eprintln!("cgroups not writable here: {why}");
            }
        }
    }
}
